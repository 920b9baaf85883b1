#include "worker/worker_main.hpp"

#include "ipc/socket_pair.hpp"
#include "shared/descriptor_limit.hpp"
#include "shared/exit_codes.hpp"
#include "shared/log_writer.hpp"
#include "shared/memory_privacy.hpp"
#include "worker/worker_link.hpp"
#include "worker/worker_server.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace clipal::worker {
namespace {

// SPEC §1: in-flight streams get this long to finish on SIGTERM; LLM streams are long.
constexpr auto drain_deadline = std::chrono::seconds(120);
// How long an ending worker keeps writing what its channel still holds (its last log lines).
constexpr auto final_flush = std::chrono::milliseconds(500);
// Free heap kept rather than returned to the kernel (see run_worker).
constexpr int heap_trim_threshold = 4 * 1024 * 1024;

std::optional<boost::asio::ip::tcp::endpoint> parse_endpoint(const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    boost::system::error_code ec;
    const auto addr = boost::asio::ip::make_address(host, ec);
    if (ec) return std::nullopt;
    unsigned long port = 0;
    try {
        port = std::stoul(text.substr(colon + 1));
    } catch (...) {
        return std::nullopt;
    }
    if (port > 65535) return std::nullopt;
    return boost::asio::ip::tcp::endpoint(addr, static_cast<unsigned short>(port));
}

// Under the supervisor: config, connections and log records all travel over the channel.
int run_supervised(const worker_options& opts) {
    auto fd = ipc::adopt_inherited(*opts.channel_fd);
    if (!fd) {
        std::cerr << "clipal worker: descriptor " << *opts.channel_fd
                  << " is not a supervisor channel (this subcommand is started by clipal itself): "
                  << fd.error().message() << "\n";
        return exit_usage;
    }
    system_clock clk;
    // One thread runs every handler, so the reactor's per-descriptor locks only cost (two
    // lock/unlock pairs per operation); the scheduler keeps its lock for the resolver's
    // thread, which posts completions to it.
    boost::asio::io_context ioc(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO);
    auto ch = ipc::channel::create(ioc.get_executor(), std::move(*fd));
    channel_log_backend backend;
    backend.attach(ch);
    logger log(clk, backend);
    worker_server server(ioc, clk, log, opts.id);
    worker_link link(ioc, ch, server, log, opts.id);
    int code = exit_ok;
    link.start([&](int c) {
        code = c;
        ch->close_when_flushed(final_flush);
        ioc.stop();
    });
    // SIGHUP and SIGINT mean "reload" and "stop" to the supervisor, which passes a stop on
    // as a drain. A worker gets them only by accident — a closing terminal, Ctrl-C, `pkill
    // -HUP clipal` — and must not end its streams for that (it runs in its own process
    // group too, see worker_process.cpp). It still drains on SIGTERM and exits on channel EOF.
    std::signal(SIGHUP, SIG_IGN);
    std::signal(SIGINT, SIG_IGN);
    boost::asio::signal_set signals(ioc, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int) {
        if (!ec) link.drain(std::chrono::duration_cast<std::chrono::milliseconds>(drain_deadline));
    });
    ioc.run();
    ipc::run_until_closed(ioc, *ch, final_flush);
    return code;
}

} // namespace

int run_worker(const worker_options& opts) {
    keep_memory_private(); // before a config, and its keys, arrive
    std::signal(SIGPIPE, SIG_IGN);
#ifdef __GLIBC__
    // Buffers are taken per request and per relayed piece and given back while a stream
    // waits. With glibc's default (128 KiB) every burst returns the top of the heap to the
    // kernel and faults it in again (costly page faults, bench/ANALYSIS.md).
    ::mallopt(M_TRIM_THRESHOLD, heap_trim_threshold);
#endif
    if (opts.channel_fd) return run_supervised(opts);
    const auto loaded = load_config(opts.config_dir, opts.overrides);
    if (!loaded.cfg) {
        for (const auto& e : loaded.errors) std::cerr << "clipal worker: " << e.to_string() << "\n";
        return exit_config;
    }
    const auto& cfg = *loaded.cfg;
    if (!opts.listen) {
        std::cerr << "clipal worker: --listen is required when running without a supervisor\n";
        return exit_usage;
    }
    const auto at = parse_endpoint(*opts.listen);
    if (!at) {
        std::cerr << "clipal worker: --listen must be ADDRESS:PORT, got \"" << *opts.listen << "\"\n";
        return exit_usage;
    }

    system_clock clk;
    log_writer writer;
    writer.configure(cfg.global.log_dir, cfg.global.log_retention_days, cfg.global.log_stdout);
    logger log(clk, writer, cfg.global.level);
    for (const auto& w : loaded.warnings) log.warn("", "{}", w.to_string());

    boost::asio::io_context ioc(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO); // as run_supervised's
    worker_server server(ioc, clk, log, opts.id);
    try {
        server.apply_config(cfg.of(opts.id), cfg.global, 1);
    } catch (const std::invalid_argument& e) {
        std::cerr << "clipal worker: " << e.what() << "\n";
        return exit_config;
    }
    boost::asio::ip::tcp::endpoint bound;
    try {
        bound = server.listen(*at);
    } catch (const boost::system::system_error& e) {
        std::cerr << "clipal worker: cannot listen on " << *opts.listen << ": " << e.code().message() << "\n";
        return exit_transient;
    }
    // Tests and scripts read the bound address from this line.
    std::printf("listening %s\n",
                (bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string())
                    .append(":" + std::to_string(bound.port()))
                    .c_str());
    std::fflush(stdout);
    log.info(info(opts.id).tag, "worker for {} serving on port {}", info(opts.id).name, bound.port());
    // Standalone there is no supervisor to raise it for us (supervised workers inherit it).
    if (const auto fds = raise_descriptor_limit()) log.info("", "descriptor limit: {}", describe(*fds));

    boost::asio::signal_set signals(ioc, SIGTERM, SIGINT);
    bool stopping = false;
    std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code ec, int sig) {
        if (ec) return;
        if (stopping) {
            log.warn("", "second signal: exiting now");
            ioc.stop();
            return;
        }
        stopping = true;
        log.info("", "signal {}: finishing {} open connection(s), then exiting", sig, server.open_sessions());
        server.drain(drain_deadline, [&] {
            signals.cancel();
            ioc.stop();
        });
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    ioc.run();
    return exit_ok;
}

} // namespace clipal::worker
