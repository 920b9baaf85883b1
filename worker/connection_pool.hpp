// A worker's keep-alive cache of upstream connections, keyed by origin and proxy: hands
// out a live idle connection (try_take) or starts an upstream_connector (acquire).
// Active connections are not counted or capped; only idle ones are bounded and expire.
// Each idle connection is watched, so one the server closes (or sends anything on) leaves
// the pool when that happens, not when the next request would have used it.
#pragma once

#include "worker/asio_types.hpp"
#include "worker/block_pool.hpp"
#include "worker/proxy_settings.hpp"
#include "worker/upstream_connector.hpp"
#include "worker/upstream_stream.hpp"
#include "worker/upstream_target.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace clipal::worker {

struct pool_options {
    // Idle connections kept per key; the oldest is closed when one more is released.
    // 0 disables keep-alive reuse. Sized above the concurrency of a busy team box (tens of
    // CLI sessions): with fewer, every burst beyond the cap closes connections that the next
    // burst has to open again (bench/ANALYSIS.md). Idle ones still expire after idle_timeout.
    std::size_t max_idle_per_key = 256;
    // An idle connection older than this is closed (servers drop theirs after 60-120 s;
    // closing first avoids reusing one the server is closing at that moment).
    std::chrono::nanoseconds idle_timeout = std::chrono::seconds(60);
};

// Lets the caller abandon an acquire (its client went away). Copyable, cheap; does
// nothing once the acquire has completed.
class acquire_handle {
public:
    acquire_handle() = default;
    explicit acquire_handle(std::function<void()> cancel) : cancel_(std::move(cancel)) {}

    // The acquire's handler then runs with operation_aborted (unless it already ran).
    void cancel() const {
        if (cancel_) cancel_();
    }

private:
    std::function<void()> cancel_;
};

// Makes the TLS context for https connections. Called once, at the first https acquire
// rather than at startup: loading the system trust store is slow, so a worker whose
// providers are all http:// never loads it and no worker delays its readiness for it.
// May return null (https connects then fail at the tls stage).
using tls_context_factory = std::function<std::shared_ptr<boost::asio::ssl::context>()>;

class connection_pool : public std::enable_shared_from_this<connection_pool>, public readable_sink {
public:
    using handler_type = upstream_connector::handler_type;

    // Single-threaded: every call and every handler runs on `ex`'s io_context thread.
    // `make_tls` may be empty when no https target is ever acquired.
    static std::shared_ptr<connection_pool> create(executor ex, tls_context_factory make_tls, proxy_settings proxies,
                                                   pool_options options = {});

    connection_pool(const connection_pool&) = delete;
    connection_pool& operator=(const connection_pool&) = delete;
    ~connection_pool();

    // Opens a new connection to `target` (through the proxy proxy_settings picks for it),
    // never one from the idle set (try_take is for those), and calls `handler` exactly
    // once, always through the executor, as upstream_connector::handler_type describes.
    acquire_handle acquire(const upstream_target& target, const connect_timeouts& timeouts, handler_type handler);

    // A live idle connection for `target` (reused() == true) at once, or null.
    std::unique_ptr<upstream_stream> try_take(const upstream_target& target);

    // Takes back a stream whose last response ended cleanly and may be kept alive. The
    // stream is closed instead when it is closed already, the key's idle list is full, or
    // the pool is shut down. From then on a watch on it closes and drops it as soon as EOF,
    // an error or any byte arrives. Any stream from acquire() may be passed; null is ignored.
    void release(std::unique_ptr<upstream_stream> stream);

    // Closes every idle connection and stops the idle timer, so the pool keeps no work
    // pending on the io_context. Later releases close their stream; acquire still works.
    void shutdown();

    // An idle connection's watch ended: readable (bytes, EOF or an error) means it is done for.
    void on_readable(std::uint64_t id, boost::system::error_code ec) override;

    std::size_t idle_count() const noexcept;
    std::size_t idle_count(const upstream_target& target) const;

    const proxy_settings& proxies() const noexcept { return proxies_; }
    // The io_context's block_pool, for what attempts make per request (looked up once here).
    block_pool& blocks() const noexcept { return blocks_; }

private:
    struct idle_entry {
        std::unique_ptr<upstream_stream> stream;
        std::chrono::steady_clock::time_point since;
        std::uint64_t id; // names the entry to its watch, which may complete after a take
    };

    connection_pool(executor ex, tls_context_factory make_tls, proxy_settings proxies, pool_options options);
    std::shared_ptr<boost::asio::ssl::context> tls_context(const upstream_target& target);

    std::string key_for(const upstream_target& target, const std::optional<proxy_endpoint>& proxy) const;
    std::unique_ptr<upstream_stream> take_idle(const std::string& key);
    void watch(const idle_entry& entry);
    void drop_idle(std::uint64_t id);
    void arm_timer();
    void on_timer(boost::system::error_code ec);
    void close_all_idle();

    executor ex_;
    tls_context_factory make_tls_; // emptied once used
    std::shared_ptr<boost::asio::ssl::context> tls_ctx_;
    proxy_settings proxies_;
    pool_options options_;
    std::unordered_map<std::string, std::vector<idle_entry>> idle_; // oldest first per key
    steady_timer timer_;
    bool timer_armed_ = false;
    std::uint64_t next_id_ = 0;
    bool shut_down_ = false;
    block_pool& blocks_;
};

} // namespace clipal::worker
