#include "worker/worker_server.hpp"

#include "shared/connection_limits.hpp"
#include "shared/duration.hpp"
#include "worker/tls_context.hpp"

#include <fmt/chrono.h>

namespace clipal::worker {

namespace {

std::shared_ptr<connection_pool> make_pool(boost::asio::io_context& ioc, logger& log) {
    std::vector<std::string> errors;
    auto proxies = proxy_settings::from_process_env(errors);
    for (const auto& e : errors) log.warn("", "proxy setting ignored: {}", e);
    auto make_tls = [&log]() -> std::shared_ptr<boost::asio::ssl::context> {
        try {
            return make_client_tls_context();
        } catch (const std::exception& e) {
            log.error("", "cannot set up TLS for https providers: {}", e.what());
            return nullptr;
        }
    };
    return connection_pool::create(ioc.get_executor(), make_tls, std::move(proxies));
}

} // namespace

worker_server::worker_server(boost::asio::io_context& ioc, const clock& clk, logger& log, profile id)
    : ioc_(ioc),
      clock_(clk),
      log_(log),
      id_(id),
      pool_(make_pool(ioc, log)),
      metrics_({}, usage_rows_per_report),
      reactivation_timer_(ioc),
      drain_timer_(ioc),
      accept_retry_(ioc),
      faults_(log),
      fault_timer_(ioc),
      idle_memory_(ioc) {}

worker_server::~worker_server() { host_gone(); }

void worker_server::apply_config(const profile_config& pc, const global_config& g, std::uint64_t generation,
                                 bool keep_state) {
    const bool keep = keep_state && runtime_ && runtime_->profile_settings() == pc;
    auto next = std::make_shared<profile_runtime>(id_, pc, g, clock_, generation,
                                                  keep ? runtime_->shared_providers() : nullptr);
    std::vector<std::size_t> ids;
    for (const auto& p : pc.providers) ids.push_back(metrics_.provider_id(p.name));
    next->set_metric_ids(std::move(ids));
    log_.set_redactor(std::make_shared<redactor>(next->keys()));
    log_.set_level(g.level);
    budget_.set_limit(g.request_body_budget_bytes);
    runtime_ = std::move(next);
    reactivation_timer_.cancel();
    log_.info(info(id_).tag, "loaded {} provider{} for {}{}", pc.providers.size(), pc.providers.size() == 1 ? "" : "s",
              info(id_).name, keep ? " (provider state kept)" : "");
    if (keep) providers_changed();
}

boost::asio::ip::tcp::endpoint worker_server::listen(const boost::asio::ip::tcp::endpoint& at) {
    acceptor_.emplace(ioc_);
    acceptor_->open(at.protocol());
    acceptor_->set_option(boost::asio::socket_base::reuse_address(true));
    acceptor_->bind(at);
    acceptor_->listen(boost::asio::socket_base::max_listen_connections);
    accept();
    return acceptor_->local_endpoint();
}

void worker_server::accept() {
    acceptor_->async_accept([this](boost::system::error_code ec, tcp_socket s) {
        if (ec == boost::asio::error::operation_aborted || !acceptor_ || !acceptor_->is_open()) return;
        if (ec) {
            // EMFILE and friends: keep serving the connections we have, and accept again
            // later, not at once (shared/connection_limits.hpp).
            log_fault(log_level::warn, "failed accepts", info(id_).tag,
                      "accept failed: {}; trying again every {} ms while it fails", ec.message(),
                      accept_retry_delay.count());
            accept_retry_.expires_after(accept_retry_delay);
            accept_retry_.async_wait([this](boost::system::error_code e) {
                if (!e && acceptor_ && acceptor_->is_open()) accept();
            });
            return;
        }
        boost::system::error_code e2;
        const auto peer = s.remote_endpoint(e2);
        s.set_option(boost::asio::ip::tcp::no_delay(true), e2);
        start_session(std::move(s), {}, e2 ? std::string("unknown") : peer.address().to_string());
        accept();
    });
}

void worker_server::adopt(tcp_socket s, std::string initial, std::string client_addr) {
    if (draining_) {
        boost::system::error_code ignored;
        s.close(ignored);
        return;
    }
    start_session(std::move(s), std::move(initial), std::move(client_addr));
}

void worker_server::start_session(tcp_socket s, std::string initial, std::string client_addr) {
    const auto max = runtime_ ? runtime_->global().max_connections : global_config{}.max_connections;
    const auto verdict = admit(open_sessions_, max);
    if (verdict != admission::serve)
        log_fault(log_level::warn, "connections over max_connections", info(id_).tag,
                  "{} a connection from {}: {} connections are open (max_connections {})",
                  verdict == admission::refuse ? "answered 503 to" : "closed unanswered", client_addr, open_sessions_,
                  max);
    if (verdict == admission::drop) {
        boost::system::error_code ignored;
        s.close(ignored);
        return;
    }
    auto session = std::make_shared<client_session>(std::move(s), *this, std::move(initial), std::move(client_addr));
    if (verdict == admission::refuse) session->refuse_over_capacity();
    std::erase_if(sessions_, [](const auto& w) { return w.expired(); });
    sessions_.push_back(session);
    session->start();
}

bool worker_server::hand_back(tcp_socket& s, std::string_view bytes, const std::string& client_addr) {
    return hand_back_ && hand_back_(s, bytes, client_addr);
}

metrics_report worker_server::take_report() {
    auto r = metrics_.take_report();
    r.open_connections = open_sessions_;
    if (runtime_) {
        for (const auto& s : runtime_->providers().snapshot())
            r.set_gauges(s.name, {provider_availability_from_string(s.state).value_or(provider_availability::active),
                                  breaker_state_from_string(s.breaker).value_or(breaker_state::closed), s.current});
    }
    return r;
}

void worker_server::fault_counted() { schedule_fault_summaries(faults_, clock_, fault_timer_); }

void worker_server::providers_changed() {
    if (!runtime_) return;
    const auto next = runtime_->providers().next_change();
    if (!next) return;
    const auto delay = std::max(*next - clock_.now(), clock::time_point::duration::zero());
    reactivation_timer_.expires_after(std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay) +
                                      std::chrono::milliseconds(1));
    reactivation_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) on_reactivation_timer();
    });
}

void worker_server::on_reactivation_timer() {
    if (!runtime_) return;
    for (const auto i : runtime_->providers().expire_due())
        log_.info(info(id_).tag, "{} is available again", runtime_->providers().provider(i).name);
    providers_changed();
}

void worker_server::drain(std::chrono::steady_clock::duration deadline, std::function<void()> done) {
    drain_done_ = std::move(done);
    draining_ = true;
    if (acceptor_) {
        boost::system::error_code ignored;
        acceptor_->close(ignored);
    }
    accept_retry_.cancel();
    reactivation_timer_.cancel();
    // Idle keep-alive connections are closed now; busy ones finish their response first.
    for (auto& w : sessions_)
        if (auto s = w.lock(); s && !s->busy()) s->close();
    if (open_sessions_ == 0) {
        finish_drain();
        return;
    }
    drain_timer_.expires_after(deadline);
    drain_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return;
        log_.warn(info(id_).tag, "drain deadline reached with {} connection(s) open; closing them", open_sessions_);
        for (auto& w : sessions_)
            if (auto s = w.lock()) s->close();
        finish_drain();
    });
}

void worker_server::session_closed() {
    --open_sessions_;
    idle_memory_.note_activity();
    if (drain_done_ && open_sessions_ == 0) finish_drain();
}

void worker_server::finish_drain() {
    if (!drain_done_) return;
    drain_timer_.cancel();
    pool_->shutdown();
    auto done = std::move(drain_done_);
    drain_done_ = nullptr;
    done();
}

} // namespace clipal::worker
