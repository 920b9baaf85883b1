// What the supervisor learns from its workers' reports (issue 15): Prometheus metrics, the
// usage.db rows it alone writes, and the recent activity `clipal status --watch` shows.
// Reports arrive at most a few times a second per worker; the database is written in
// batches on a timer, never on a request's path, and a write error never fails anything.
#pragma once

#include "shared/clock.hpp"
#include "shared/config.hpp"
#include "shared/local_response.hpp"
#include "shared/log.hpp"
#include "shared/usage_rows_codec.hpp"
#include "supervisor/metrics_registry.hpp"
#include "supervisor/recent_activity.hpp"
#include "supervisor/usage_store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace clipal::supervisor {

class observability {
public:
    observability(boost::asio::io_context& ioc, const clock& clk, logger& log, std::filesystem::path config_dir);

    // Opens usage.db (an error is logged once; clipal runs on without usage rows) and
    // starts the purge timer. `g`: usage_retention_days.
    void start(const global_config& g);
    void configure(const global_config& g) { retention_days_ = g.usage_retention_days; }
    // Writes what is pending (shutdown, re-exec for an upgrade).
    void flush();

    // One ipc::worker_report of profile p: its JSON and its block of usage rows. `retiring`:
    // from a worker being replaced by an upgrade, whose counts count but whose gauges are its
    // successor's business.
    void on_report(profile p, std::string_view json, std::string_view rows, bool retiring = false);
    void worker_started(profile p, bool restart);
    void worker_gone(profile p);
    void worker_state(profile p, slot_state s) { registry_.set_worker_state(p, s); }
    void router_connections(std::uint64_t n) { registry_.set_open_connections(n); }
    void config_reloaded(bool ok) { registry_.config_reloaded(ok); }

    // GET /metrics: the exposition, or the guard's refusal (Host, Origin, access token as
    // for any request), from the head bytes the router read.
    local_response metrics_answer(std::string_view head, const global_config& g) const;
    const metrics_registry& registry() const { return registry_; }
    // For the status document's worker entries (clipal status --watch).
    boost::json::object activity(profile p) const { return activity_.to_json(p); }

private:
    void schedule_flush();
    void write_pending();
    void purge();

    boost::asio::io_context& ioc_;
    const clock& clock_;
    logger& log_;
    std::filesystem::path config_dir_;
    metrics_registry registry_;
    recent_activity activity_;
    usage_rows_decoder rows_decoder_;
    std::unique_ptr<usage_store> store_;
    int retention_days_ = 90;
    boost::asio::steady_timer flush_timer_;
    bool flush_armed_ = false;
    boost::asio::steady_timer purge_timer_;
    std::uint64_t bad_reports_ = 0;
};

} // namespace clipal::supervisor
