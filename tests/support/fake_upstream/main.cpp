// fake-upstream: plays scripted LLM providers (and optionally a CONNECT proxy) on loopback
// for clipal's integration tests, benchmarks and demo. Single-threaded Asio/Beast.
#include "support/fake_upstream/listener.hpp"
#include "support/fake_upstream/options.hpp"
#include "support/fake_upstream/provider.hpp"
#include "support/fake_upstream/proxy_session.hpp"
#include "support/fake_upstream/recorder.hpp"
#include "support/fake_upstream/upstream_session.hpp"

#include "shared/exit_codes.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <signal.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <vector>

namespace {

namespace fu = clipal::test::fake_upstream;
namespace net = boost::asio;
namespace beast = boost::beast;
using net::ip::tcp;

std::string endpoint_text(const tcp::endpoint& ep) {
    const auto addr = ep.address().to_string();
    return (ep.address().is_v6() ? "[" + addr + "]" : addr) + ":" + std::to_string(ep.port());
}

// Clients that offer ALPN get http/1.1; one offering only h2 gets no ALPN at all, which
// is what an HTTP/1.1-only server does.
int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                  void*) {
    static const unsigned char http11[] = "\x08http/1.1";
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, http11, sizeof http11 - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

std::unique_ptr<net::ssl::context> make_tls(const fu::options& o) {
    if (o.tls_cert.empty()) return nullptr;
    auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    ctx->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                     net::ssl::context::no_sslv3);
    ctx->use_certificate_chain_file(o.tls_cert);
    ctx->use_private_key_file(o.tls_key, net::ssl::context::pem);
    SSL_CTX_set_alpn_select_cb(ctx->native_handle(), select_http11, nullptr);
    return ctx;
}

std::string basic_auth(const std::string& user_pass) {
    std::string out(4 * ((user_pass.size() + 2) / 3) + 1, '\0');
    const int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(user_pass.data()), static_cast<int>(user_pass.size()));
    out.resize(static_cast<std::size_t>(n));
    return "Basic " + out;
}

// Watches stdin; EOF (the parent test died or closed the pipe) stops the program.
class stdin_watch : public std::enable_shared_from_this<stdin_watch> {
public:
    explicit stdin_watch(net::io_context& ioc) : ioc_(ioc), in_(ioc) {}
    void run() {
        boost::system::error_code ec;
        in_.assign(::dup(0), ec);
        if (ec) {
            // /dev/null and regular files cannot be polled; they are at EOF for our purpose.
            ioc_.stop();
            return;
        }
        read();
    }

private:
    void read() {
        in_.async_read_some(net::buffer(buf_),
                            [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                                if (ec) return self->ioc_.stop();
                                self->read();
                            });
    }
    net::io_context& ioc_;
    net::posix::stream_descriptor in_;
    std::array<char, 256> buf_{};
};

int run(const fu::options& o, std::chrono::steady_clock::time_point started) {
    // Declared before the io_context so that sessions still queued in it, destroyed with
    // it, never outlive the providers, recorder and TLS context they point to.
    const auto tls = make_tls(o);
    std::unique_ptr<fu::recorder> rec;
    if (!o.record.empty()) rec = std::make_unique<fu::recorder>(o.record, started);
    std::vector<std::unique_ptr<fu::provider>> providers;
    const fu::proxy_context proxy_ctx{rec.get(), o.proxy_auth.empty() ? std::string() : basic_auth(o.proxy_auth),
                                      o.verbose};

    net::io_context ioc(1);
    // Handlers go in before the listening lines: a test may signal as soon as it reads them.
    net::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&ioc](const boost::system::error_code& ec, int) {
        if (!ec) ioc.stop();
    });
    std::vector<std::shared_ptr<fu::listener>> listeners;
    for (const auto& lo : o.listeners) {
        auto& prov = *providers.emplace_back(std::make_unique<fu::provider>(lo.name, lo.main_script, lo.path_scripts));
        const fu::session_context ctx{prov, rec.get(), o.verbose};
        auto l = std::make_shared<fu::listener>(
            ioc, tcp::endpoint(net::ip::make_address(lo.host), lo.port), [ctx, tls = tls.get()](tcp::socket s) {
                s.set_option(tcp::no_delay(true));
                if (tls != nullptr)
                    std::make_shared<fu::tls_session>(
                        net::ssl::stream<beast::tcp_stream>(beast::tcp_stream(std::move(s)), *tls), ctx)
                        ->run();
                else
                    std::make_shared<fu::plain_session>(beast::tcp_stream(std::move(s)), ctx)->run();
            });
        prov.on_refuse([weak = std::weak_ptr<fu::listener>(l)] {
            if (auto sp = weak.lock()) sp->close();
        });
        listeners.push_back(l);
        std::cout << "listening " << lo.name << " " << endpoint_text(l->local_endpoint()) << "\n";
        // A script that starts by refusing never accepts anyone.
        if (lo.path_scripts.empty() && lo.main_script.steps.front().kind == fu::step_kind::refuse)
            l->close();
        else
            l->run();
    }

    if (o.connect_proxy) {
        auto l = std::make_shared<fu::listener>(
            ioc, tcp::endpoint(net::ip::make_address(o.connect_proxy->first), o.connect_proxy->second),
            [&proxy_ctx](tcp::socket s) { std::make_shared<fu::proxy_session>(std::move(s), proxy_ctx)->run(); });
        std::cout << "listening proxy " << endpoint_text(l->local_endpoint()) << "\n";
        l->run();
        listeners.push_back(l);
    }
    std::cout << std::flush;

    if (o.exit_on_stdin_eof) std::make_shared<stdin_watch>(ioc)->run();
    ioc.run();
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    const auto started = std::chrono::steady_clock::now();
    ::signal(SIGPIPE, SIG_IGN);
    fu::options o;
    try {
        o = fu::parse_options(argc, argv);
    } catch (const std::invalid_argument& e) {
        std::cerr << "fake-upstream: " << e.what() << "\n" << fu::usage_text;
        return clipal::exit_usage;
    }
    if (o.help) {
        std::cout << fu::usage_text;
        return 0;
    }
    try {
        return run(o, started);
    } catch (const std::exception& e) {
        std::cerr << "fake-upstream: " << e.what() << "\n";
        return 1;
    }
}
