// Idle bookkeeping for the keep-alive pool. Idle lists are used LIFO (the most recently
// used connection is the least likely to have been dropped by the server) and expire
// FIFO under one timer, armed only while something is idle. Liveness is watched the way
// nginx does it: a wait pending on every idle connection, so a server's close is seen
// when it happens and a request never meets a dead pooled connection it has to discover
// (which slows a failover from a refusing provider, bench/ANALYSIS.md M5).
#include "worker/connection_pool.hpp"

#include <boost/asio/error.hpp>

#include <algorithm>

namespace clipal::worker {
namespace net = boost::asio;
using boost::system::error_code;

std::shared_ptr<connection_pool> connection_pool::create(executor ex, tls_context_factory make_tls,
                                                         proxy_settings proxies, pool_options options) {
    return std::shared_ptr<connection_pool>(
        new connection_pool(std::move(ex), std::move(make_tls), std::move(proxies), options));
}

connection_pool::connection_pool(executor ex, tls_context_factory make_tls, proxy_settings proxies,
                                 pool_options options)
    : ex_(ex),
      make_tls_(std::move(make_tls)),
      proxies_(std::move(proxies)),
      options_(options),
      timer_(ex),
      blocks_(boost::asio::use_service<block_pool>(ex.context())) {}

connection_pool::~connection_pool() { close_all_idle(); }

std::string connection_pool::key_for(const upstream_target& target, const std::optional<proxy_endpoint>& proxy) const {
    return proxy ? target.key() + " via " + proxy->key() : target.key();
}

acquire_handle connection_pool::acquire(const upstream_target& target, const connect_timeouts& timeouts,
                                        handler_type handler) {
    auto proxy = proxies_.proxy_for(target);
    auto key = key_for(target, proxy);
    auto connector = std::make_shared<upstream_connector>(ex_, tls_context(target), target, std::move(proxy), timeouts);
    connector->start([key = std::move(key), h = std::move(handler)](error_code ec, connect_stage stage,
                                                                    std::unique_ptr<upstream_stream> s) {
        if (s) s->set_pool_key(key);
        h(ec, stage, std::move(s));
    });
    return acquire_handle([weak = std::weak_ptr<upstream_connector>(connector)] {
        if (auto c = weak.lock()) c->cancel();
    });
}

std::unique_ptr<upstream_stream> connection_pool::try_take(const upstream_target& target) {
    const auto proxy = proxies_.proxy_for(target);
    // Without a proxy the target's own key names the list: no string is built.
    auto stream = proxy ? take_idle(key_for(target, proxy)) : take_idle(target.key());
    if (stream) stream->set_reused(true);
    return stream;
}

std::shared_ptr<net::ssl::context> connection_pool::tls_context(const upstream_target& target) {
    if (!target.tls) return nullptr;
    if (make_tls_) {
        tls_ctx_ = make_tls_();
        make_tls_ = nullptr;
    }
    return tls_ctx_;
}

std::unique_ptr<upstream_stream> connection_pool::take_idle(const std::string& key) {
    const auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    std::unique_ptr<upstream_stream> found;
    auto& list = it->second;
    while (!list.empty() && !found) {
        auto stream = std::move(list.back().stream);
        list.pop_back();
        // The watch goes on as the taker's wait (a plain stream) or ends (TLS, whose reads
        // are OpenSSL's). If it completed already (the close happened in this same turn of
        // the event loop), the request's own write or read fails and upstream_attempt
        // retries once on a fresh connection.
        stream->detach_readable();
        if (stream->tls()) {
            boost::system::error_code ignored;
            stream->tcp().socket().cancel(ignored);
        }
        if (stream->is_open()) found = std::move(stream);
    }
    if (list.empty()) idle_.erase(it);
    return found;
}

void connection_pool::watch(const idle_entry& entry) {
    // A readiness wait, which the next request's attempt takes over as the wait for its
    // response (upstream_stream::await_readable).
    entry.stream->await_readable(weak_from_this(), entry.id);
}

void connection_pool::on_readable(std::uint64_t id, error_code ec) {
    if (ec == net::error::operation_aborted) return;
    drop_idle(id);
}

void connection_pool::drop_idle(std::uint64_t id) {
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
        auto& list = it->second;
        const auto e = std::find_if(list.begin(), list.end(), [id](const idle_entry& x) { return x.id == id; });
        if (e == list.end()) continue;
        e->stream->close();
        list.erase(e);
        if (list.empty()) idle_.erase(it);
        return;
    }
}

void connection_pool::release(std::unique_ptr<upstream_stream> stream) {
    if (!stream) return;
    if (shut_down_ || options_.max_idle_per_key == 0 || stream->pool_key().empty() || !stream->is_open()) {
        stream->close();
        return;
    }
    // A deadline the last user left on the stream must not fire while it sits idle.
    stream->tcp().expires_never();
    auto& list = idle_[stream->pool_key()];
    list.push_back({std::move(stream), std::chrono::steady_clock::now(), next_id_++});
    watch(list.back());
    if (list.size() > options_.max_idle_per_key) {
        list.front().stream->close();
        list.erase(list.begin());
    }
    arm_timer();
}

void connection_pool::arm_timer() {
    if (timer_armed_ || idle_.empty()) return;
    auto oldest = std::chrono::steady_clock::time_point::max();
    for (const auto& [key, list] : idle_) oldest = std::min(oldest, list.front().since);
    timer_armed_ = true;
    timer_.expires_at(oldest + std::chrono::duration_cast<std::chrono::steady_clock::duration>(options_.idle_timeout));
    timer_.async_wait([weak = weak_from_this()](error_code ec) {
        if (auto pool = weak.lock()) pool->on_timer(ec);
    });
}

void connection_pool::on_timer(error_code ec) {
    timer_armed_ = false;
    if (ec || shut_down_) return;
    const auto cutoff = std::chrono::steady_clock::now() -
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(options_.idle_timeout);
    for (auto it = idle_.begin(); it != idle_.end();) {
        auto& list = it->second;
        std::erase_if(list, [&](idle_entry& e) {
            const bool drop = e.since <= cutoff;
            if (drop) e.stream->close();
            return drop;
        });
        it = list.empty() ? idle_.erase(it) : std::next(it);
    }
    arm_timer();
}

void connection_pool::shutdown() {
    shut_down_ = true;
    close_all_idle();
    timer_.cancel();
}

void connection_pool::close_all_idle() {
    for (auto& [key, list] : idle_)
        for (auto& e : list) e.stream->close();
    idle_.clear();
}

std::size_t connection_pool::idle_count() const noexcept {
    std::size_t n = 0;
    for (const auto& [key, list] : idle_) n += list.size();
    return n;
}

std::size_t connection_pool::idle_count(const upstream_target& target) const {
    const auto it = idle_.find(key_for(target, proxies_.proxy_for(target)));
    return it == idle_.end() ? 0 : it->second.size();
}

} // namespace clipal::worker
