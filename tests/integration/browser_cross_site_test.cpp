// A real browser attacking clipal (issue 13): headless Chromium opens a page served from
// another loopback port, and the page's script posts to clipal with fetch — a simple
// request (text/plain, no preflight), one that needs a preflight (JSON + x-api-key), and
// one to a DNS-rebound name (evil.example mapped to 127.0.0.1 by the browser's resolver).
// The fake upstream must receive nothing and clipal must log each refusal.
#include "integration/supervisor_fixture.hpp"
#include "support/fake_upstream_process.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <string>
#include <thread>

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace clipal::test;
using namespace std::chrono_literals;

namespace {

// Serves one HTML page to every request on 127.0.0.1:<port>, from its own thread, until destroyed.
class page_server {
public:
    explicit page_server(std::string html) : html_(std::move(html)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0 ||
            ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
            throw std::runtime_error("page server cannot listen on loopback");
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~page_server() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    page_server(const page_server&) = delete;
    page_server& operator=(const page_server&) = delete;

    std::uint16_t port() const { return port_; }

private:
    void serve() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) != 1) continue;
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            answer(c);
            ::close(c);
        }
    }

    // Reads the request head (bounded: 2 s, 64 KiB), then writes the page and closes.
    void answer(int c) const {
        std::string head;
        const auto deadline = std::chrono::steady_clock::now() + 2s;
        while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536 &&
               std::chrono::steady_clock::now() < deadline) {
            pollfd p{c, POLLIN, 0};
            if (::poll(&p, 1, 50) != 1) continue;
            char buf[4096];
            const auto n = ::recv(c, buf, sizeof buf, 0);
            if (n <= 0) return;
            head.append(buf, static_cast<std::size_t>(n));
        }
        const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " +
                                     std::to_string(html_.size()) + "\r\nConnection: close\r\n\r\n" + html_;
        std::size_t sent = 0;
        while (sent < response.size()) {
            const auto n = ::send(c, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) return;
            sent += static_cast<std::size_t>(n);
        }
    }

    std::string html_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

std::optional<std::filesystem::path> find_chromium() {
    for (const char* p : {"/usr/bin/chromium", "/usr/bin/chromium-browser"})
        if (std::filesystem::exists(p)) return std::filesystem::path(p);
    return std::nullopt;
}

// The attacking page: three fetches one after another, then their outcomes in #out.
std::string attack_page(std::uint16_t clipal_port) {
    const std::string url = "http://127.0.0.1:" + std::to_string(clipal_port) + "/claudecode/v1/messages";
    const std::string rebound = "http://evil.example:" + std::to_string(clipal_port) + "/claudecode/v1/messages";
    const std::string body =
        R"({\"model\":\"m\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]})";
    return R"(<!doctype html><html><body><pre id="out">pending</pre><script>
async function attempt(name, url, init) {
  try { const r = await fetch(url, init); return name + ':' + r.status; }
  catch (e) { return name + ':failed'; }
}
(async () => {
  const results = [];
  results.push(await attempt('simple', ')" +
           url + R"(', {method: 'POST', body: ")" + body + R"("}));
  results.push(await attempt('preflight', ')" +
           url + R"(', {method: 'POST', headers: {'Content-Type': 'application/json', 'x-api-key': 'k'}, body: ")" +
           body + R"("}));
  results.push(await attempt('rebound', ')" +
           rebound + R"(', {method: 'POST', body: ")" + body + R"("}));
  document.getElementById('out').textContent = 'done ' + results.join(' ');
})();
</script></body></html>)";
}

TEST(BrowserCrossSite, PageOnAnotherPortCannotReachTheUpstream) {
    const auto chromium = find_chromium();
    if (!chromium)
        GTEST_SKIP() << "chromium is not installed (apt-get install chromium; scripts/clipal-dev test installs it)";

    fake_upstream_process fu(fake_upstream_options{{{"a"}}});
    supervisor_fixture s;
    s.write("claude-code.yaml", provider_yaml({{"a", fu.base_url("a")}}));
    s.start(1);
    page_server page(attack_page(s.port()));
    const std::string origin = "http://127.0.0.1:" + std::to_string(page.port());

    temp_dir profile_dir;
    spawn_options o;
    // setsid execs chromium in place in a new process group (this child is not a group
    // leader), so the whole browser tree is killed below by that group's id.
    o.args = {chromium->string(),
              "--headless",
              "--no-sandbox",
              "--disable-gpu",
              "--disable-quic",
              "--no-first-run",
              "--disable-background-networking",
              "--disable-component-update",
              "--disable-sync",
              "--user-data-dir=" + profile_dir.path().string(),
              "--host-resolver-rules=MAP evil.example 127.0.0.1",
              "--virtual-time-budget=10000",
              "--dump-dom",
              origin + "/attack.html"};
    child_process browser("setsid", o);
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (browser.stdout_text().find("</html>") == std::string::npos && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(50ms);
    // Before the leader is reaped, so its PID, and with it the group's id, cannot have been reused.
    ::kill(-browser.pid(), SIGKILL);
    browser.stop(5s);

    const std::string dom = browser.stdout_text();
    ASSERT_NE(dom.find("done simple:"), std::string::npos) << "the page did not finish its fetches\nDOM:\n"
                                                           << dom << "\nchromium stderr:\n"
                                                           << browser.stderr_text().substr(0, 4000);
    // Each fetch finished before the page wrote its results, so the recording is final.
    const auto reached = fu.requests();
    EXPECT_TRUE(reached.empty()) << reached.size() << " request(s) reached the upstream, first: " << reached[0].method
                                 << " " << reached[0].target;
    const auto log = s.process().stdout_text();
    EXPECT_NE(log.find("refused: Origin \"" + origin + "\" is not allowed (POST /claudecode/v1/messages)"),
              std::string::npos)
        << log;
    // The preflight's refusal is the same kind within 10 s: counted, not logged (fault_log).
    EXPECT_NE(log.find("refused: Host \"evil.example:" + std::to_string(s.port()) + "\" is not allowed"),
              std::string::npos)
        << log;
}

} // namespace
