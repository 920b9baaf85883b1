// Tests of the test tools themselves: the PKI, child_process, http_probe and /proc reading.
#include "support/child_process.hpp"
#include "support/http_probe.hpp"
#include "support/proc_stat.hpp"
#include "support/temp_dir.hpp"
#include "support/test_ca.hpp"

#include <gtest/gtest.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <thread>

namespace {

using namespace std::chrono_literals;
using clipal::test::child_process;
using clipal::test::end_kind;
using clipal::test::http_probe;
using clipal::test::make_test_pki;
using clipal::test::spawn_options;
using clipal::test::temp_dir;

struct x509_free {
    void operator()(X509* p) const { X509_free(p); }
};
using x509_ptr = std::unique_ptr<X509, x509_free>;

x509_ptr read_cert(const std::filesystem::path& p) {
    std::FILE* f = std::fopen(p.c_str(), "r");
    if (f == nullptr) return nullptr;
    x509_ptr cert(PEM_read_X509(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    return cert;
}

// Returns the X509_V_* result of verifying `leaf` against a store holding only `ca`,
// for the loopback IP 127.0.0.1.
int verify(X509* ca, X509* leaf) {
    std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(), X509_STORE_free);
    X509_STORE_add_cert(store.get(), ca);
    std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
    X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr);
    X509_VERIFY_PARAM_set1_ip_asc(X509_STORE_CTX_get0_param(ctx.get()), "127.0.0.1");
    X509_verify_cert(ctx.get());
    return X509_STORE_CTX_get_error(ctx.get());
}

TEST(TestPki, ServerCertVerifiesAgainstCaForLoopback) {
    temp_dir dir;
    const auto pki = make_test_pki(dir.path() / "pki");
    const auto ca = read_cert(pki.ca_cert);
    const auto server = read_cert(pki.server_cert);
    ASSERT_TRUE(ca && server);
    EXPECT_EQ(verify(ca.get(), server.get()), X509_V_OK);
    EXPECT_EQ(X509_check_host(server.get(), "localhost", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_ip_asc(server.get(), "::1", 0), 1);
    EXPECT_EQ(X509_check_host(server.get(), "example.com", 0, 0, nullptr), 0);
}

TEST(TestPki, SelfSignedCertIsNotTrustedByCa) {
    temp_dir dir;
    const auto pki = make_test_pki(dir.path());
    const auto ca = read_cert(pki.ca_cert);
    const auto self = read_cert(pki.self_signed_cert);
    ASSERT_TRUE(ca && self);
    EXPECT_NE(verify(ca.get(), self.get()), X509_V_OK);
    EXPECT_EQ(X509_check_ip_asc(self.get(), "127.0.0.1", 0), 1);
}

TEST(TestPki, KeysAreOwnerOnly) {
    temp_dir dir;
    const auto pki = make_test_pki(dir.path());
    using std::filesystem::perms;
    const auto owner_rw = perms::owner_read | perms::owner_write;
    EXPECT_EQ(std::filesystem::status(pki.server_key).permissions() & perms::all, owner_rw);
    EXPECT_EQ(std::filesystem::status(pki.self_signed_key).permissions() & perms::all, owner_rw);
}

// ---- child_process ----

spawn_options sh(std::string script) { return spawn_options{.args = {"-c", std::move(script)}}; }

TEST(ChildProcess, WaitForOutputReturnsMatchingLineAndExitCode) {
    child_process p("/bin/sh", sh("echo 'starting'; echo 'listening p0 127.0.0.1:41235'; echo oops >&2; exit 3"));
    const auto line = p.wait_for_output(std::regex(R"(listening p0 127\.0\.0\.1:\d+)"), 5s);
    ASSERT_TRUE(line);
    EXPECT_EQ(*line, "listening p0 127.0.0.1:41235");
    const auto st = p.wait_exit(5s);
    ASSERT_TRUE(st);
    EXPECT_TRUE(st->exited_with(3)) << st->describe();
    EXPECT_EQ(p.stderr_text(), "oops\n");
    EXPECT_TRUE(p.wait_for_output("oops", 1s));
}

TEST(ChildProcess, WaitForOutputSkipsEarlierMatches) {
    child_process p("/bin/sh", sh("echo 'n 1'; echo 'n 2'; echo 'n 3'"));
    EXPECT_EQ(p.wait_for_output("n ", 5s, 2), "n 3");
    EXPECT_FALSE(p.wait_for_output("n ", 5s, 3));
}

TEST(ChildProcess, WaitForOutputGivesUpWhenProcessExits) {
    child_process p("/bin/sh", sh("exit 0"));
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(p.wait_for_output("never", 30s));
    EXPECT_LT(std::chrono::steady_clock::now() - start, 20s);
}

TEST(ChildProcess, EnvironmentIsExtendedOrReplaced) {
    auto opts = sh("echo \"foo=$CLIPAL_T_FOO home=$HOME\"");
    opts.env = {{"CLIPAL_T_FOO", "bar"}};
    child_process inherited("/bin/sh", opts);
    ASSERT_TRUE(inherited.wait_exit(5s));
    EXPECT_NE(inherited.stdout_text(), "foo=bar home=\n"); // HOME is inherited

    opts.clean_env = true;
    child_process clean("/bin/sh", opts);
    ASSERT_TRUE(clean.wait_exit(5s));
    EXPECT_EQ(clean.stdout_text(), "foo=bar home=\n");
}

TEST(ChildProcess, DestructorKillsRunningChild) {
    pid_t pid = 0;
    {
        child_process p("/bin/sleep", {.args = {"60"}});
        pid = p.pid();
        EXPECT_TRUE(p.running());
    }
    EXPECT_EQ(::kill(pid, 0), -1);
    EXPECT_EQ(errno, ESRCH);
}

TEST(ChildProcess, SignalEndsChildAndStatusShowsIt) {
    child_process p("/bin/sleep", {.args = {"60"}});
    EXPECT_FALSE(p.wait_exit(50ms));
    p.signal(SIGTERM);
    const auto st = p.wait_exit(5s);
    ASSERT_TRUE(st);
    EXPECT_TRUE(st->killed_by(SIGTERM)) << st->describe();
    EXPECT_TRUE(p.stop().killed_by(SIGTERM));
}

TEST(ChildProcess, ClosingStdinGivesChildEof) {
    child_process p("/bin/cat", {.stdin_pipe = true});
    EXPECT_FALSE(p.wait_exit(50ms));
    p.close_stdin();
    const auto st = p.wait_exit(5s);
    ASSERT_TRUE(st);
    EXPECT_TRUE(st->exited_with(0));
}

TEST(ChildProcess, OutputFilesOfChildrenSharingADirectoryDoNotCollide) {
    temp_dir dir;
    auto opts = sh("echo one");
    opts.output_dir = dir.path();
    child_process a("/bin/sh", opts);
    opts.args[1] = "echo two";
    child_process b("/bin/sh", opts);
    ASSERT_TRUE(a.wait_exit(5s) && b.wait_exit(5s));
    EXPECT_NE(a.stdout_path(), b.stdout_path());
    EXPECT_EQ(a.stdout_text(), "one\n");
    EXPECT_EQ(b.stdout_text(), "two\n");
}

TEST(ChildProcess, SanitizerReportIsDetected) {
    child_process clean("/bin/sh", sh("echo fine >&2"));
    child_process ubsan("/bin/sh", sh("echo 'x.cpp:3:5: runtime error: signed integer overflow' >&2"));
    child_process asan("/bin/sh", sh("echo '==1==ERROR: AddressSanitizer: heap-use-after-free' >&2"));
    ASSERT_TRUE(clean.wait_exit(5s) && ubsan.wait_exit(5s) && asan.wait_exit(5s));
    EXPECT_FALSE(clean.has_sanitizer_report());
    EXPECT_TRUE(ubsan.has_sanitizer_report());
    EXPECT_TRUE(asan.has_sanitizer_report());
}

TEST(ChildProcess, MissingProgramThrows) { EXPECT_THROW(child_process("/nonexistent/program"), std::runtime_error); }

// A child that waits to be killed. The tests kill and reap it themselves; should an
// assertion end a test first, the destructor does, so no child outlives the test.
struct sleeper {
    sleeper() : pid(::fork()) {
        if (pid == 0) {
            ::pause();
            ::_exit(0);
        }
    }
    ~sleeper() {
        // Not once reaped: the PID may already belong to another process.
        if (pid > 0 && !reaped) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
    }
    sleeper(const sleeper&) = delete;
    sleeper& operator=(const sleeper&) = delete;
    pid_t reap() {
        const pid_t r = ::waitpid(pid, nullptr, 0);
        reaped = r == pid;
        return r;
    }
    pid_t pid;
    bool reaped = false;
};

TEST(ProcStat, ChildIsSeenWithItsParentUntilItIsKilledAndReaped) {
    sleeper child;
    const pid_t pid = child.pid;
    ASSERT_GT(pid, 0);
    const auto st = clipal::test::read_proc_stat(pid);
    ASSERT_TRUE(st);
    EXPECT_EQ(st->ppid, ::getpid());
    EXPECT_FALSE(clipal::test::process_gone(pid));
    const auto children = clipal::test::children_of(::getpid());
    EXPECT_NE(std::find(children.begin(), children.end(), pid), children.end());

    ::kill(pid, SIGKILL);
    // Killed and not reaped: a zombie, which still answers kill(0), counts as gone.
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (!clipal::test::process_gone(pid) && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(5ms);
    EXPECT_TRUE(clipal::test::process_gone(pid));
    EXPECT_EQ(::kill(pid, 0), 0);

    ASSERT_EQ(child.reap(), pid);
    EXPECT_TRUE(clipal::test::process_gone(pid));
    EXPECT_FALSE(clipal::test::read_proc_file("/proc/" + std::to_string(pid) + "/stat"));
}

// Why the reads use plain syscalls: a /proc file opened before the process is reaped fails
// its read with ESRCH, which std::ifstream turns into an exception (it broke an upgrade test).
TEST(ProcStat, FileOpenedBeforeTheReapFailsToRead) {
    sleeper child;
    const pid_t pid = child.pid;
    ASSERT_GT(pid, 0);
    const int fd = ::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ::kill(pid, SIGKILL);
    ASSERT_EQ(child.reap(), pid);
    char buf[64];
    errno = 0;
    EXPECT_EQ(::read(fd, buf, sizeof buf), -1);
    EXPECT_EQ(errno, ESRCH);
    ::close(fd);
}

// ---- http_probe, against a scripted one-connection server ----

// Accepts one connection, reads the request head, then writes each step (after its
// delay) and finally closes — cleanly or with a reset.
class canned_server {
public:
    struct step {
        std::chrono::milliseconds delay;
        std::string bytes;
    };

    canned_server(std::vector<step> steps, bool reset_at_end = false) {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 4) != 0 ||
            ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
            throw std::runtime_error("canned_server: bind failed");
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this, steps = std::move(steps), reset_at_end] { serve(steps, reset_at_end); });
    }
    ~canned_server() {
        thread_.join();
        ::close(listen_fd_);
    }
    std::uint16_t port() const { return port_; }

private:
    void serve(const std::vector<step>& steps, bool reset_at_end) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 5000) != 1) return;
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) return;
        std::string req;
        char buf[4096];
        while (req.find("\r\n\r\n") == std::string::npos) {
            pollfd c{fd, POLLIN, 0};
            if (::poll(&c, 1, 5000) != 1) break;
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            req.append(buf, static_cast<std::size_t>(n));
        }
        for (const auto& s : steps) {
            std::this_thread::sleep_for(s.delay); // the pacing under test, not a readiness wait
            ::send(fd, s.bytes.data(), s.bytes.size(), MSG_NOSIGNAL);
        }
        if (reset_at_end) {
            const linger lg{1, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        ::close(fd);
    }

    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
};

TEST(HttpProbe, ChunkedResponseIsDecodedWithArrivalTimes) {
    canned_server srv(
        {{0ms, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"},
         {0ms, "8\r\ndata: 1\n"},
         {0ms, "\r\n"},
         {200ms, "9\r\ndata: 2\n\n\r\n"},
         {0ms, "0\r\n\r\n"}});
    http_probe c("127.0.0.1", srv.port());
    ASSERT_TRUE(c.connected()) << c.last_error();
    const auto r = c.request("POST", "/v1/messages", {{"content-type", "application/json"}}, "{}");
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.header("content-type"), "text/event-stream");
    EXPECT_EQ(r.body, "data: 1\ndata: 2\n\n");
    const auto times = r.arrival_times_of("data: ");
    ASSERT_EQ(times.size(), 2u);
    EXPECT_GE(times[1] - times[0], 150ms);
}

TEST(HttpProbe, KeptAliveConnectionReadsConsecutiveResponses) {
    canned_server srv({{0ms, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
                             "HTTP/1.1 204 No Content\r\nX-A: 1\r\nx-a: 2\r\n\r\n"}});
    http_probe c("127.0.0.1", srv.port());
    const auto first = c.request("GET", "/");
    ASSERT_TRUE(first.complete()) << first.error;
    EXPECT_EQ(first.body, "abc");
    const auto second = c.read_response(5s);
    ASSERT_TRUE(second.complete()) << second.error;
    EXPECT_EQ(second.status, 204);
    EXPECT_EQ(second.header_count("X-A"), 2u);
    EXPECT_TRUE(c.wait_peer_closed(5s));
}

TEST(HttpProbe, CleanCloseBeforeContentLengthIsNotComplete) {
    canned_server srv({{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345"}});
    http_probe c("127.0.0.1", srv.port());
    const auto r = c.request("GET", "/");
    EXPECT_EQ(r.end, end_kind::closed_early) << clipal::test::to_string(r.end);
    EXPECT_EQ(r.body, "12345");
}

TEST(HttpProbe, CleanCloseBeforeLastChunkIsNotComplete) {
    canned_server srv({{0ms, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"}});
    http_probe c("127.0.0.1", srv.port());
    const auto r = c.request("GET", "/");
    EXPECT_EQ(r.end, end_kind::closed_early) << clipal::test::to_string(r.end);
}

TEST(HttpProbe, ResetMidBodyIsReported) {
    canned_server srv({{0ms, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"}}, true);
    http_probe c("127.0.0.1", srv.port());
    const auto r = c.request("GET", "/");
    EXPECT_EQ(r.end, end_kind::reset) << clipal::test::to_string(r.end);
    EXPECT_FALSE(r.complete());
}

TEST(HttpProbe, CloseDelimitedBodyEndsCompleteAtClose) {
    canned_server srv({{0ms, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it"}});
    http_probe c("127.0.0.1", srv.port());
    const auto r = c.request("GET", "/");
    ASSERT_TRUE(r.complete()) << r.error;
    EXPECT_EQ(r.body, "all of it");
}

TEST(HttpProbe, BadChunkFramingIsMalformed) {
    canned_server srv({{0ms, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY\r\n"}});
    http_probe c("127.0.0.1", srv.port());
    const auto r = c.request("GET", "/");
    EXPECT_EQ(r.end, end_kind::malformed) << clipal::test::to_string(r.end);
}

TEST(HttpProbe, StalledBodyTimesOut) {
    canned_server srv({{0ms, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n1"}, {700ms, ""}});
    http_probe c("127.0.0.1", srv.port());
    const auto r = c.request("GET", "/", {}, {}, 300ms);
    EXPECT_EQ(r.end, end_kind::timed_out) << clipal::test::to_string(r.end);
    EXPECT_EQ(r.status, 200);
}

TEST(HttpProbe, UnusedPortRefusesConnections) {
    const auto port = clipal::test::unused_loopback_port();
    ASSERT_NE(port, 0);
    http_probe c;
    EXPECT_FALSE(c.connect("127.0.0.1", port, 2s));
    EXPECT_NE(c.last_error().find("refused"), std::string::npos) << c.last_error();
}

} // namespace
