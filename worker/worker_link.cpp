#include "worker/worker_link.hpp"

#include "clipal/version.hpp"
#include "ipc/config_codec.hpp"
#include "ipc/passed_socket.hpp"
#include "shared/exit_codes.hpp"
#include "shared/time_format.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <sys/socket.h>
#include <unistd.h>

namespace clipal::worker {
namespace {

constexpr auto heartbeat_interval = std::chrono::seconds(1);
// Reports per heartbeat at most; rows beyond wait for the next one. Under load reports go
// before the heartbeat, each time usage_rows_per_report rows are waiting (report_due).
constexpr std::size_t reports_per_beat = 200;

} // namespace

void channel_log_backend::write(const log_record& r) {
    if (channel_ && channel_->is_open() && channel_->send(ipc::to_wire(r)) != ipc::send_result::closed) return;
    const auto line = format_log_line(r);
    std::fprintf(stderr, "%s\n", line.c_str());
}

worker_link::worker_link(boost::asio::io_context& ioc, std::shared_ptr<ipc::channel> ch, worker_server& server,
                         logger& log, profile id)
    : ioc_(ioc), channel_(std::move(ch)), server_(server), log_(log), id_(id), heartbeat_timer_(ioc) {}

void worker_link::start(std::function<void(int)> on_exit) {
    on_exit_ = std::move(on_exit);
    server_.set_hand_back([this](tcp_socket& s, std::string_view bytes, const std::string& addr) {
        // The descriptor goes to the supervisor; our socket object is closed afterwards.
        ipc::unique_fd copy(::dup(s.native_handle()));
        if (!copy) return false;
        ipc::handoff_back msg{0, std::string(bytes), addr};
        if (channel_->send(msg, std::move(copy)) != ipc::send_result::queued) return false;
        boost::system::error_code ignored;
        s.close(ignored);
        return true;
    });
    channel_->start([this](ipc::message&& m, ipc::unique_fd fd) { on_message(std::move(m), std::move(fd)); },
                    [this](boost::system::error_code, const std::string& why) {
                        // The supervisor is gone or broke the protocol: never outlive it.
                        std::fprintf(stderr, "clipal worker %s: supervisor channel closed (%s); exiting\n",
                                     std::string(info(id_).name).c_str(), why.c_str());
                        end(exit_ok);
                    });
    server_.set_report_due([this] {
        if (report_posted_) return;
        report_posted_ = true;
        boost::asio::post(ioc_, [this] {
            report_posted_ = false;
            if (ready_sent_ && !draining_) send_reports();
        });
    });
    (void)channel_->send(ipc::hello{ipc::protocol_version, std::string(info(id_).name),
                                    static_cast<std::uint32_t>(::getpid()), clipal::version});
    heartbeat();
}

void worker_link::send_reports() {
    // The first report always goes (gauges and counters); more while rows wait.
    for (std::size_t n = 0; n == 0 || (n < reports_per_beat && server_.pending_usage_rows() > 0); ++n) {
        auto json = to_json(server_.take_report());
        if (channel_->send(ipc::worker_report{std::move(json), server_.take_usage_rows()}) != ipc::send_result::queued)
            break;
    }
}

void worker_link::heartbeat() {
    (void)channel_->send(ipc::heartbeat{heartbeat_seq_++});
    if (ready_sent_) send_reports();
    heartbeat_timer_.expires_after(heartbeat_interval);
    heartbeat_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) heartbeat();
    });
}

void worker_link::on_message(ipc::message&& m, ipc::unique_fd fd) {
    if (auto* push = std::get_if<ipc::config_push>(&m)) {
        on_config(*push);
    } else if (auto* h = std::get_if<ipc::handoff>(&m)) {
        on_handoff(std::move(*h), std::move(fd));
    } else if (auto* sr = std::get_if<ipc::status_request>(&m)) {
        (void)channel_->send(ipc::status_reply{sr->id, status_json()});
    } else if (auto* d = std::get_if<ipc::drain>(&m)) {
        drain(std::chrono::milliseconds(d->deadline_ms));
    }
}

void worker_link::on_config(const ipc::config_push& push) {
    auto parsed = ipc::parse_worker_config(push.config_json);
    std::string error = parsed.error;
    if (parsed.value) {
        try {
            server_.apply_config(parsed.value->profile, parsed.value->global, push.generation,
                                 parsed.value->keep_state);
        } catch (const std::invalid_argument& e) {
            error = e.what();
        }
    }
    const bool ok = error.empty();
    (void)channel_->send(ipc::config_ack{push.generation, ok, error});
    if (ok && !ready_sent_) {
        ready_sent_ = true;
        (void)channel_->send(ipc::ready{push.generation});
    }
}

void worker_link::on_handoff(ipc::handoff&& h, ipc::unique_fd fd) {
    if (!fd) {
        // The descriptor did not arrive: this process is at its descriptor limit. The
        // supervisor still holds the connection and answers that client; nothing else here
        // is affected.
        server_.log_fault(log_level::warn, "connections refused for want of descriptors", info(id_).tag,
                          "could not take over a connection from {}: no free file descriptor (the process's limit "
                          "is reached); the client gets a 503",
                          h.client_address);
        (void)channel_->send(ipc::handoff_refused{h.connection_id, "its worker has no free file descriptor"});
        return;
    }
    // From here the connection is ours: the supervisor may drop its copy.
    (void)channel_->send(ipc::handoff_ack{h.connection_id});
    auto s = ipc::adopt_local_socket(ioc_, fd);
    if (!s) {
        log_.warn(info(id_).tag, "could not take over a connection: the descriptor passed is not a TCP socket");
        return;
    }
    server_.adopt(std::move(*s), std::move(h.initial_bytes), std::move(h.client_address));
}

std::string worker_link::status_json() const {
    boost::json::object o;
    auto rt = server_.runtime();
    o["generation"] = rt ? rt->generation() : 0;
    o["open_connections"] = server_.open_sessions();
    boost::json::array providers;
    if (rt) {
        for (const auto& p : rt->providers().snapshot()) {
            boost::json::object po;
            po["name"] = p.name;
            po["state"] = p.state;
            po["until"] = p.until ? boost::json::value(iso_utc(*p.until)) : boost::json::value(nullptr);
            po["reason"] =
                p.reason ? boost::json::value(std::string(to_string(*p.reason))) : boost::json::value(nullptr);
            po["current"] = p.current;
            po["requests"] = p.requests;
            po["failures"] = p.failures;
            po["breaker"] = p.breaker;
            po["next_try"] = p.next_try ? boost::json::value(iso_utc(*p.next_try)) : boost::json::value(nullptr);
            po["consecutive_failures"] = p.consecutive_failures;
            po["model"] = p.model.empty() ? boost::json::value(nullptr) : boost::json::value(p.model);
            boost::json::array keys;
            for (const auto& k : p.keys) {
                boost::json::object ko;
                ko["fingerprint"] = k.fingerprint;
                ko["state"] = k.state;
                ko["until"] = k.until ? boost::json::value(iso_utc(*k.until)) : boost::json::value(nullptr);
                ko["reason"] =
                    k.reason ? boost::json::value(std::string(to_string(*k.reason))) : boost::json::value(nullptr);
                ko["in_use"] = k.in_use;
                keys.push_back(std::move(ko));
            }
            po["keys"] = std::move(keys);
            providers.push_back(std::move(po));
        }
    }
    o["providers"] = std::move(providers);
    return boost::json::serialize(o);
}

void worker_link::drain(std::chrono::milliseconds deadline) {
    if (draining_) return;
    draining_ = true;
    server_.drain(deadline, [this] {
        // The last second's counts and rows go before the channel closes.
        if (ready_sent_) send_reports();
        end(exit_ok);
    });
}

void worker_link::end(int code) {
    heartbeat_timer_.cancel();
    if (on_exit_) {
        auto f = std::move(on_exit_);
        on_exit_ = nullptr;
        f(code);
    }
}

} // namespace clipal::worker
