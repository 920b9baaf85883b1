// The status document that `clipal status --json` prints (docs/status-json.md): the
// supervisor's own facts plus every worker's answer, gathered without blocking the event
// loop. status_report.hpp renders the same document as a table for humans.
#pragma once

#include "shared/clock.hpp"
#include "shared/profile.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace clipal::supervisor {

class router;
class upgrade_coordinator;
class worker_runner;

// The outcome of the latest config load: at start, on a file change, SIGHUP or `clipal reload`.
struct reload_result {
    bool ok = true;
    clock::time_point time;
    std::string error;
};

class status_document {
public:
    using runner_set = std::array<std::unique_ptr<worker_runner>, 3>;

    // Keeps references: every source must outlive this object. The supervisor's uptime
    // counts from construction.
    // `activity`: a profile's recent activity for its worker entry ("activity").
    status_document(const clock& clk, const router& r, const runner_set& runners, const upgrade_coordinator& upgrade,
                    const reload_result& last_reload, std::filesystem::path config_dir,
                    std::function<boost::json::object(profile)> activity);

    // Asks every worker for its status and calls `respond` once with the whole document,
    // after the last one answered (a runner answers within ~1 s, also for a silent worker).
    // Runs on the supervisor's event loop; `respond` is called there too.
    void collect(std::function<void(boost::json::value)> respond) const;

private:
    boost::json::object assemble(std::array<boost::json::object, 3> workers) const;

    const clock& clock_;
    const router& router_;
    std::function<boost::json::object(profile)> activity_;
    const runner_set& runners_;
    const upgrade_coordinator& upgrade_;
    const reload_result& last_reload_;
    std::filesystem::path config_dir_;
    clock::time_point started_at_;
};

} // namespace clipal::supervisor
