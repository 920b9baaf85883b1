#include "supervisor/retiring_worker.hpp"

#include "ipc/passed_socket.hpp"

#include <csignal>
#include <unistd.h>

namespace clipal::supervisor {
namespace {

// Beyond the drain deadline the worker ends its sessions itself; this is the backstop.
constexpr auto kill_grace = std::chrono::seconds(5);

} // namespace

retiring_worker::retiring_worker(boost::asio::io_context& ioc, logger& log, profile id, int pid, int channel_fd,
                                 hooks h)
    : ioc_(ioc), log_(log), id_(id), pid_(pid), hooks_(std::move(h)), kill_timer_(ioc) {
    channel_ = ipc::channel::create(ioc.get_executor(), ipc::unique_fd(channel_fd));
    channel_->start([this](ipc::message&& m, ipc::unique_fd fd) { on_message(std::move(m), std::move(fd)); },
                    [this](boost::system::error_code, const std::string&) {
                        // Closing its end is the last thing a drained worker does.
                        log_.debug(info(id_).tag, "previous worker {} closed its channel", pid_);
                    });
}

retiring_worker::~retiring_worker() {
    if (channel_) channel_->close();
}

void retiring_worker::on_message(ipc::message&& m, ipc::unique_fd fd) {
    if (auto* rec = std::get_if<ipc::log_record>(&m)) {
        if (hooks_.log_record) hooks_.log_record(*rec);
    } else if (auto* rep = std::get_if<ipc::worker_report>(&m)) {
        if (hooks_.report) hooks_.report(*rep);
    } else if (auto* back = std::get_if<ipc::handoff_back>(&m)) {
        if (!fd || !hooks_.reroute) return;
        auto s = ipc::adopt_socket(ioc_, fd);
        if (!s) return;
        hooks_.reroute(std::move(*s), std::move(back->initial_bytes), std::move(back->client_address));
    }
    // Heartbeats, acks and the rest belonged to the previous image's bookkeeping.
}

void retiring_worker::drain(std::chrono::milliseconds deadline) {
    if (draining_ || gone()) return;
    draining_ = true;
    log_.info(info(id_).tag, "previous worker {} finishes its requests and exits", pid_);
    if (channel_->is_open())
        (void)channel_->send(ipc::drain{static_cast<std::uint32_t>(deadline.count())});
    else
        ::kill(pid_, SIGTERM); // without a channel it cannot be asked; SIGTERM drains too
    kill_timer_.expires_after(deadline + kill_grace);
    kill_timer_.async_wait([this](boost::system::error_code ec) {
        if (ec || gone()) return;
        log_.warn(info(id_).tag, "previous worker {} did not finish within the drain deadline; killing it", pid_);
        ::kill(pid_, SIGKILL);
    });
}

std::optional<upgrade_state::worker> retiring_worker::snapshot() const {
    if (gone() || !channel_->is_open()) return std::nullopt;
    const int fd = ::dup(channel_->native_handle());
    if (fd < 0) return std::nullopt;
    return upgrade_state::worker{id_, pid_, fd};
}

void retiring_worker::kill_now() {
    if (!gone()) ::kill(pid_, SIGKILL);
}

bool retiring_worker::on_exit(int pid) {
    if (pid != pid_ || gone()) return false;
    pid_ = -1;
    kill_timer_.cancel();
    if (channel_) channel_->close();
    return true;
}

} // namespace clipal::supervisor
