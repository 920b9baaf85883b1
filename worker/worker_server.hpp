// The worker process's core: the current config generation, the upstream pool, the
// body budget, the sessions, and the timer that notices reactivations without traffic.
// Connections come from a listener (standalone) or from the supervisor (hand-off).
#pragma once

#include "shared/clock.hpp"
#include "shared/log.hpp"
#include "worker/asio_types.hpp"
#include "worker/body_budget.hpp"
#include "worker/client_session.hpp"
#include "worker/connection_pool.hpp"
#include "worker/idle_memory.hpp"
#include "worker/profile_runtime.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace clipal::worker {

class worker_server final : public session_host {
public:
    using hand_back_fn = std::function<bool(tcp_socket&, std::string_view, const std::string&)>;

    worker_server(boost::asio::io_context& ioc, const clock& clk, logger& log, profile id);
    ~worker_server() override;

    // Builds a new generation from a validated config; new requests use it, requests in
    // flight finish on the old one. Throws std::invalid_argument on an unusable config.
    // `keep_state`: only config.yaml changed; with the same providers as now, their state
    // (deactivations, cooldowns, breakers, counters, current) carries on (SPEC §4).
    void apply_config(const profile_config& pc, const global_config& g, std::uint64_t generation,
                      bool keep_state = false);
    std::shared_ptr<profile_runtime> runtime() override { return runtime_; }
    worker_metrics& metrics() override { return metrics_; }
    void report_due() override {
        if (report_due_) report_due_();
    }
    // Called when usage rows pile up faster than the heartbeat carries them (worker_link).
    void set_report_due(std::function<void()> f) { report_due_ = std::move(f); }
    // The report for the supervisor: counters since the last one, every provider's state now
    // and the open connections; and the oldest block of at most usage_rows_per_report usage
    // rows to go with it.
    metrics_report take_report();
    std::string take_usage_rows() { return metrics_.take_usage_rows(); }
    std::size_t pending_usage_rows() const { return metrics_.pending_usage_rows(); }

    // Standalone mode: accept connections here. Returns the bound endpoint.
    boost::asio::ip::tcp::endpoint listen(const boost::asio::ip::tcp::endpoint& at);
    // Supervised mode: serve a connection the router accepted, with the bytes it read.
    void adopt(tcp_socket s, std::string initial, std::string client_addr);
    void set_hand_back(hand_back_fn fn) { hand_back_ = std::move(fn); }

    // Stops accepting; `done` runs when the last session ends or at the deadline, when
    // the remaining sessions are closed.
    void drain(std::chrono::steady_clock::duration deadline, std::function<void()> done);
    std::size_t open_sessions() const { return open_sessions_; }

    // session_host
    logger& log() override { return log_; }
    const clock& time_source() override { return clock_; }
    connection_pool& pool() override { return *pool_; }
    body_budget& budget() override { return budget_; }
    bool hand_back(tcp_socket& s, std::string_view bytes, const std::string& client_addr) override;
    void providers_changed() override;
    bool draining() const override { return draining_; }
    void session_opened() override { ++open_sessions_; }
    void session_closed() override;
    fault_log& faults() override { return faults_; }
    void fault_counted() override;

private:
    void accept();
    void start_session(tcp_socket s, std::string initial, std::string client_addr);
    void on_reactivation_timer();
    void finish_drain();

    boost::asio::io_context& ioc_;
    const clock& clock_;
    logger& log_;
    profile id_;
    std::shared_ptr<connection_pool> pool_;
    body_budget budget_{0};
    std::shared_ptr<profile_runtime> runtime_;
    worker_metrics metrics_;
    std::function<void()> report_due_;
    std::optional<tcp_acceptor> acceptor_;
    steady_timer reactivation_timer_;
    steady_timer drain_timer_;
    steady_timer accept_retry_; // after a failed accept (standalone)
    fault_log faults_;
    steady_timer fault_timer_;
    idle_memory idle_memory_;
    std::vector<std::weak_ptr<client_session>> sessions_;
    std::size_t open_sessions_ = 0;
    hand_back_fn hand_back_;
    std::function<void()> drain_done_;
    bool draining_ = false;
};

} // namespace clipal::worker
