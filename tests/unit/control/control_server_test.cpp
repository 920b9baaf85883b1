#include "supervisor/control_server.hpp"

#include "app/control_commands.hpp"
#include "support/temp_dir.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace json = boost::json;
using clipal::app::ask_supervisor;
using clipal::app::control_reply;
using clipal::supervisor::control_server;

namespace {

// Runs an io_context on its own thread; the tests play the blocking client.
class io_thread {
public:
    io_thread() = default;
    ~io_thread() { join(); }
    void run() {
        thread_ = std::thread([this] { ioc_.run(); });
    }
    // Runs `f` on the io thread, e.g. control_server::stop(), then waits for run() to end.
    template <class F>
    void finish(F f) {
        asio::post(ioc_, std::move(f));
        join();
    }
    asio::io_context& ioc() { return ioc_; }

private:
    void join() {
        if (thread_.joinable()) thread_.join();
    }
    asio::io_context ioc_;
    std::thread thread_;
};

int connect_raw(const std::filesystem::path& p) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, p.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Everything the server sends until it closes, or until `limit` passes.
std::string read_all(int fd, std::chrono::milliseconds limit) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char buf[4096];
    for (;;) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

std::string error_of(const control_reply& r) {
    if (r.result != control_reply::outcome::ok) return "no reply: " + r.error;
    const auto* e = r.value.as_object().if_contains("error");
    return e != nullptr && e->is_string() ? std::string(e->get_string()) : "";
}

// A handler that answers every command at once with what it was asked.
control_server::handler echo_handler(std::vector<std::string>& seen) {
    return [&seen](const std::string& command, control_server::responder respond) {
        seen.push_back(command);
        respond(json::object{{"ok", true}, {"command", command}});
    };
}

} // namespace

TEST(ControlServer, AnswersEachCommandOverARealSocket) {
    clipal::test::temp_dir dir;
    const auto path = dir.path() / "c.sock";
    std::vector<std::string> seen;
    io_thread io;
    control_server server(io.ioc().get_executor(), path, dir.path(), echo_handler(seen));
    server.start();
    io.run();
    for (const std::string command : {"status", "reload", "stop"}) {
        const auto r = ask_supervisor(path, command);
        ASSERT_EQ(r.result, control_reply::outcome::ok) << r.error;
        EXPECT_EQ(r.value.at("command").as_string(), command);
        EXPECT_EQ(r.value.at("ok").as_bool(), true);
    }
    io.finish([&] { server.stop(); });
    EXPECT_EQ(seen, (std::vector<std::string>{"status", "reload", "stop"}));
}

TEST(ControlServer, HandlerMayRespondLaterFromAnotherThread) {
    clipal::test::temp_dir dir;
    const auto path = dir.path() / "c.sock";
    std::vector<std::thread> helpers;
    io_thread io;
    control_server server(io.ioc().get_executor(), path, dir.path(),
                          [&](const std::string&, control_server::responder respond) {
                              helpers.emplace_back([respond] { respond(json::object{{"pid", 42}}); });
                          });
    server.start();
    io.run();
    const auto r = ask_supervisor(path, "status");
    ASSERT_EQ(r.result, control_reply::outcome::ok) << r.error;
    EXPECT_EQ(r.value.at("pid").as_int64(), 42);
    io.finish([&] { server.stop(); });
    for (auto& t : helpers) t.join();
}

TEST(ControlServer, SocketFileIsOwnerOnlyAndRemovedOnStop) {
    clipal::test::temp_dir dir;
    const auto path = dir.path() / "c.sock";
    std::vector<std::string> seen;
    asio::io_context ioc;
    control_server server(ioc.get_executor(), path, dir.path(), echo_handler(seen));
    server.start();
    struct stat st {};
    ASSERT_EQ(::lstat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    server.stop();
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(path)));
}

TEST(ControlServer, SecondLiveInstanceForSameSocketIsRefused) {
    clipal::test::temp_dir dir;
    const auto path = dir.path() / "c.sock";
    std::vector<std::string> seen;
    asio::io_context ioc;
    control_server first(ioc.get_executor(), path, "/home/u/.clipal", echo_handler(seen));
    first.start();
    control_server second(ioc.get_executor(), path, "/home/u/.clipal", echo_handler(seen));
    try {
        second.start();
        FAIL() << "a second instance started on a live socket";
    } catch (const std::runtime_error& e) {
        EXPECT_EQ(std::string(e.what()), "another clipal is already serving config dir /home/u/.clipal (pid " +
                                             std::to_string(::getpid()) + ")");
    }
    // The refused instance must not have disturbed the first one's socket.
    second.stop();
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::symlink_status(path)));
    first.stop();
    control_server third(ioc.get_executor(), path, "/home/u/.clipal", echo_handler(seen));
    EXPECT_NO_THROW(third.start());
}

TEST(ControlServer, StaleSocketFileFromDeadInstanceIsReplaced) {
    clipal::test::temp_dir dir;
    const auto path = dir.path() / "c.sock";
    {
        // What a killed instance leaves behind: a socket file nobody listens on.
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
        ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
        ::close(fd);
    }
    ASSERT_TRUE(std::filesystem::is_socket(path));
    std::vector<std::string> seen;
    io_thread io;
    control_server server(io.ioc().get_executor(), path, dir.path(), echo_handler(seen));
    ASSERT_NO_THROW(server.start());
    io.run();
    const auto r = ask_supervisor(path, "status");
    EXPECT_EQ(r.result, control_reply::outcome::ok) << r.error;
    io.finish([&] { server.stop(); });
}

TEST(ControlServer, RegularFileAtSocketPathIsNotDeleted) {
    clipal::test::temp_dir dir;
    const auto path = dir.write("c.sock", "precious");
    std::vector<std::string> seen;
    asio::io_context ioc;
    control_server server(ioc.get_executor(), path, dir.path(), echo_handler(seen));
    EXPECT_THROW(server.start(), std::runtime_error);
    EXPECT_TRUE(std::filesystem::is_regular_file(path));
}

TEST(ControlServer, OversizedRequestLineIsRefused) {
    clipal::test::temp_dir dir;
    const auto path = dir.path() / "c.sock";
    std::vector<std::string> seen;
    io_thread io;
    control_server server(io.ioc().get_executor(), path, dir.path(), echo_handler(seen));
    server.start();
    io.run();
    const int fd = connect_raw(path);
    ASSERT_GE(fd, 0);
    const std::string big = R"({"command":"status","pad":")" + std::string(5000, 'x') + "\"}\n";
    ASSERT_EQ(::send(fd, big.data(), big.size(), MSG_NOSIGNAL), static_cast<ssize_t>(big.size()));
    const auto reply = read_all(fd, std::chrono::seconds(5));
    ::close(fd);
    io.finish([&] { server.stop(); });
    EXPECT_NE(reply.find("request line longer than 4096 bytes"), std::string::npos) << reply;
    EXPECT_TRUE(seen.empty());
}

TEST(ControlServer, MalformedRequestsGetAnErrorReply) {
    clipal::test::temp_dir dir;
    const auto path = dir.path() / "c.sock";
    std::vector<std::string> seen;
    io_thread io;
    control_server server(io.ioc().get_executor(), path, dir.path(), echo_handler(seen));
    server.start();
    io.run();
    for (const std::string request : {"not json\n", "[1,2]\n", "{\"command\":7}\n", "{}\n"}) {
        const int fd = connect_raw(path);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
        const auto reply = read_all(fd, std::chrono::seconds(5));
        ::close(fd);
        const auto v = json::parse(reply);
        EXPECT_EQ(v.at("ok").as_bool(), false) << request;
        EXPECT_NE(std::string(v.at("error").as_string()).find("malformed request"), std::string::npos) << reply;
    }
    io.finish([&] { server.stop(); });
    EXPECT_TRUE(seen.empty());
}

TEST(ControlServer, HandlerExceptionBecomesErrorReply) {
    clipal::test::temp_dir dir;
    const auto path = dir.path() / "c.sock";
    io_thread io;
    control_server server(io.ioc().get_executor(), path, dir.path(),
                          [](const std::string&, control_server::responder) { throw std::runtime_error("boom"); });
    server.start();
    io.run();
    const auto r = ask_supervisor(path, "status");
    io.finish([&] { server.stop(); });
    EXPECT_EQ(error_of(r), "internal error: boom");
}

TEST(ControlServer, SilentClientIsClosedAtTheDeadline) {
    clipal::test::temp_dir dir;
    const auto path = dir.path() / "c.sock";
    std::vector<std::string> seen;
    control_server::limits lim;
    lim.deadline = std::chrono::milliseconds(200);
    io_thread io;
    control_server server(io.ioc().get_executor(), path, dir.path(), echo_handler(seen), lim);
    server.start();
    io.run();
    const int fd = connect_raw(path);
    ASSERT_GE(fd, 0);
    const auto start = std::chrono::steady_clock::now();
    const auto got = read_all(fd, std::chrono::seconds(10));
    ::close(fd);
    io.finish([&] { server.stop(); });
    EXPECT_TRUE(got.empty());
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << "the connection was never closed";
}

TEST(ControlServer, HandlerThatNeverRespondsCostsOnlyTheDeadline) {
    clipal::test::temp_dir dir;
    const auto path = dir.path() / "c.sock";
    control_server::limits lim;
    lim.deadline = std::chrono::milliseconds(200);
    std::vector<control_server::responder> parked;
    io_thread io;
    control_server server(
        io.ioc().get_executor(), path, dir.path(),
        [&](const std::string&, control_server::responder r) { parked.push_back(std::move(r)); }, lim);
    server.start();
    io.run();
    const auto r = ask_supervisor(path, "status");
    EXPECT_EQ(r.result, control_reply::outcome::failed);
    EXPECT_NE(r.error.find("closed the connection without replying"), std::string::npos) << r.error;
    // Responding after the deadline is harmless.
    io.finish([&] {
        for (auto& p : parked) p(json::object{{"late", true}});
        server.stop();
    });
}

TEST(ControlServer, ConnectionsBeyondTheLimitWaitForAFreeSlot) {
    clipal::test::temp_dir dir;
    const auto path = dir.path() / "c.sock";
    std::vector<std::string> seen;
    control_server::limits lim;
    lim.max_connections = 1;
    io_thread io;
    control_server server(io.ioc().get_executor(), path, dir.path(), echo_handler(seen), lim);
    server.start();
    io.run();
    const int idle = connect_raw(path); // occupies the only slot
    ASSERT_GE(idle, 0);
    const int waiting = connect_raw(path);
    ASSERT_GE(waiting, 0);
    const std::string request = "{\"command\":\"status\"}\n";
    ASSERT_EQ(::send(waiting, request.data(), request.size(), MSG_NOSIGNAL), static_cast<ssize_t>(request.size()));
    EXPECT_EQ(read_all(waiting, std::chrono::milliseconds(300)), "");
    ::close(idle);
    const auto reply = read_all(waiting, std::chrono::seconds(5));
    ::close(waiting);
    io.finish([&] { server.stop(); });
    EXPECT_NE(reply.find("\"command\":\"status\""), std::string::npos) << reply;
}

TEST(ControlServer, PeerRunningAsAnotherUserIsRefused) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another user";
    clipal::test::temp_dir dir;
    const auto path = dir.path() / "c.sock";
    std::vector<std::string> seen;
    io_thread io;
    control_server server(io.ioc().get_executor(), path, dir.path(), echo_handler(seen));
    server.start();
    io.run();
    // Open the fences the file system puts up, so that only the SO_PEERCRED check remains.
    ::chmod(dir.path().c_str(), 0755);
    ::chmod(path.c_str(), 0666);
    int pipefd[2];
    ASSERT_EQ(::pipe(pipefd), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(pipefd[0]);
        if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
        const int fd = connect_raw(path);
        if (fd < 0) ::_exit(3);
        const char request[] = "{\"command\":\"stop\"}\n";
        // The server may refuse before reading, so the request may meet a closed socket.
        (void)::send(fd, request, sizeof request - 1, MSG_NOSIGNAL);
        char buf[512];
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0) ::_exit(5);
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n > 0 && ::write(pipefd[1], buf, static_cast<std::size_t>(n)) < 0) ::_exit(6);
        ::_exit(0);
    }
    ::close(pipefd[1]);
    const auto reply = read_all(pipefd[0], std::chrono::seconds(10));
    ::close(pipefd[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    io.finish([&] { server.stop(); });
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    EXPECT_NE(reply.find("permission denied"), std::string::npos) << reply;
    EXPECT_TRUE(seen.empty());
}
