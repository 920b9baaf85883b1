// An in-process HTTPS server that plays a release host for `clipal update` tests: it
// answers GETs by path from a table of canned responses, and can announce a wrong
// Content-Length or drop the connection mid-body. Plain sockets + OpenSSL on one thread,
// one request per connection (the client sends Connection: close). Header-only so the
// unit and integration tests share it.
#pragma once

#include "support/test_ca.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace clipal::test {

struct fake_response {
    int status = 200;
    std::string body;
    std::optional<std::size_t> content_length{}; // announced length; default body.size()
    std::optional<std::size_t> close_after{};    // send only this many body bytes, then close
    bool abrupt = false;                         // close without TLS close_notify
    std::vector<std::pair<std::string, std::string>> headers{};
};

class fake_release_server {
public:
    // Serves with the given certificate (e.g. pki.server_cert, or pki.self_signed_cert for
    // an untrusted server) on 127.0.0.1, port chosen by the kernel.
    fake_release_server(const std::filesystem::path& cert, const std::filesystem::path& key) {
        // A client that gives up mid-body must not kill the test with SIGPIPE.
        ::signal(SIGPIPE, SIG_IGN);
        ctx_ = ::SSL_CTX_new(::TLS_server_method());
        if (ctx_ == nullptr || ::SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) != 1 ||
            ::SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1)
            throw std::runtime_error("fake_release_server: cannot load the certificate");
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(listen_fd_, 16) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
            throw std::runtime_error("fake_release_server: cannot listen on 127.0.0.1");
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    explicit fake_release_server(const test_pki& pki) : fake_release_server(pki.server_cert, pki.server_key) {}

    ~fake_release_server() {
        stop_ = true;
        thread_.join();
        ::close(listen_fd_);
        ::SSL_CTX_free(ctx_);
    }
    fake_release_server(const fake_release_server&) = delete;
    fake_release_server& operator=(const fake_release_server&) = delete;

    std::uint16_t port() const { return port_; }
    std::string url(std::string_view path) const {
        return "https://127.0.0.1:" + std::to_string(port_) + std::string(path);
    }

    // Answers GET `path` (query ignored) with `r` from now on. Unknown paths get 404.
    void set(const std::string& path, fake_response r) {
        std::lock_guard lock(mutex_);
        routes_[path] = std::move(r);
    }
    // The request targets received so far, in order.
    std::vector<std::string> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }
    // The request heads received so far, in order.
    std::vector<std::string> heads() const {
        std::lock_guard lock(mutex_);
        return heads_;
    }

private:
    void serve() {
        while (!stop_) {
            pollfd p{listen_fd_, POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) continue;
            // Bounded: a silent client costs at most a few seconds.
            timeval tv{5, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            handle(fd);
            ::close(fd);
        }
    }

    void handle(int fd) {
        SSL* ssl = ::SSL_new(ctx_);
        ::SSL_set_fd(ssl, fd);
        if (::SSL_accept(ssl) != 1) {
            ::SSL_free(ssl);
            ::ERR_clear_error();
            return;
        }
        std::string head;
        char buf[4096];
        while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
            const int n = ::SSL_read(ssl, buf, sizeof buf);
            if (n <= 0) break;
            head.append(buf, static_cast<std::size_t>(n));
        }
        const auto sp1 = head.find(' ');
        const auto sp2 = sp1 == std::string::npos ? sp1 : head.find(' ', sp1 + 1);
        const std::string target = sp2 == std::string::npos ? "" : head.substr(sp1 + 1, sp2 - sp1 - 1);
        fake_response r;
        {
            std::lock_guard lock(mutex_);
            requests_.push_back(target);
            heads_.push_back(head);
            const auto it = routes_.find(target.substr(0, target.find('?')));
            if (it != routes_.end())
                r = it->second;
            else
                r = fake_response{404, "{\"message\":\"Not Found\"}"};
        }
        std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + reason(r.status) + "\r\n";
        out += "Content-Length: " + std::to_string(r.content_length.value_or(r.body.size())) + "\r\n";
        for (const auto& [k, v] : r.headers) out += k + ": " + v + "\r\n";
        out += "Connection: close\r\n\r\n";
        out += r.close_after ? r.body.substr(0, *r.close_after) : r.body;
        write_all(ssl, out);
        if (!r.abrupt) ::SSL_shutdown(ssl);
        ::SSL_free(ssl);
        ::ERR_clear_error();
    }

    static void write_all(SSL* ssl, std::string_view s) {
        while (!s.empty()) {
            const int n = ::SSL_write(ssl, s.data(), static_cast<int>(std::min<std::size_t>(s.size(), 16384)));
            if (n <= 0) return;
            s.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    static std::string reason(int status) {
        switch (status) {
        case 200: return "OK";
        case 302: return "Found";
        case 403: return "Forbidden";
        case 404: return "Not Found";
        case 500: return "Internal Server Error";
        default: return "Status";
        }
    }

    SSL_CTX* ctx_ = nullptr;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    mutable std::mutex mutex_;
    std::map<std::string, fake_response> routes_;
    std::vector<std::string> requests_;
    std::vector<std::string> heads_;
    std::thread thread_;
};

} // namespace clipal::test
