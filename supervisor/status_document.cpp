// Assembling the status document. Workers answer in any order; the document is sent once
// with all of them, sampling the supervisor's own facts at that moment.
#include "supervisor/status_document.hpp"

#include "clipal/version.hpp"
#include "shared/profile.hpp"
#include "shared/time_format.hpp"
#include "supervisor/retiring_worker.hpp"
#include "supervisor/router.hpp"
#include "supervisor/upgrade_coordinator.hpp"
#include "supervisor/worker_runner.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <unistd.h>

namespace clipal::supervisor {

status_document::status_document(const clock& clk, const router& r, const runner_set& runners,
                                 const upgrade_coordinator& upgrade, const reload_result& last_reload,
                                 std::filesystem::path config_dir, std::function<boost::json::object(profile)> activity)
    : clock_(clk),
      router_(r),
      activity_(std::move(activity)),
      runners_(runners),
      upgrade_(upgrade),
      last_reload_(last_reload),
      config_dir_(std::move(config_dir)),
      started_at_(clk.now()) {}

void status_document::collect(std::function<void(boost::json::value)> respond) const {
    struct gather {
        std::array<boost::json::object, 3> workers;
        std::size_t pending = 0;
        std::function<void(boost::json::value)> respond;
    };
    auto g = std::make_shared<gather>();
    g->pending = runners_.size();
    g->respond = std::move(respond);
    for (std::size_t i = 0; i < runners_.size(); ++i) {
        runners_[i]->status([this, g, i](boost::json::object w) {
            g->workers[i] = std::move(w);
            if (activity_) g->workers[i]["activity"] = activity_(all_profiles[i].id);
            if (--g->pending > 0) return;
            g->respond(assemble(std::move(g->workers)));
        });
    }
}

boost::json::object status_document::assemble(std::array<boost::json::object, 3> workers) const {
    boost::json::object o;
    o["version"] = clipal::version;
    o["pid"] = static_cast<std::int64_t>(::getpid());
    o["uptime_seconds"] = std::chrono::duration_cast<std::chrono::seconds>(clock_.now() - started_at_).count();
    const auto ep = router_.local_endpoint();
    o["listen"] = ep ? fmt::format("{}:{}", ep->address().to_string(), ep->port()) : std::string("-");
    // The port as a number: with `--port 0` this is how anyone learns which port was given.
    o["listen_port"] = ep ? boost::json::value(static_cast<std::int64_t>(ep->port())) : boost::json::value(nullptr);
    o["config_dir"] = config_dir_.string();
    boost::json::object lr;
    lr["ok"] = last_reload_.ok;
    lr["time"] = iso_utc(last_reload_.time);
    lr["error"] = last_reload_.ok ? boost::json::value(nullptr) : boost::json::value(last_reload_.error);
    o["last_reload"] = std::move(lr);
    boost::json::array ws;
    for (auto& each : workers) ws.push_back(std::move(each));
    o["workers"] = std::move(ws);
    boost::json::array previous;
    for (const auto& r : upgrade_.previous_workers())
        previous.push_back(
            boost::json::object{{"profile", info(r->id()).name}, {"pid", r->pid()}, {"draining", r->draining()}});
    o["previous_workers"] = std::move(previous);
    o["upgrading"] = upgrade_.upgrading();
    return o;
}

} // namespace clipal::supervisor
