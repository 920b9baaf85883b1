// The Linux transport: AF_UNIX SOCK_SEQPACKET keeps message boundaries and ties each
// SCM_RIGHTS descriptor to its datagram, so a datagram must be exactly one frame and the
// descriptors that came with it are that frame's. No reassembly, no partial writes.
#include "ipc/channel_transport.hpp"

#include <boost/asio/error.hpp>
#include <fmt/format.h>

#include <sys/socket.h>

namespace clipal::ipc::transport {
namespace {

read_result failed(boost::system::error_code ec, std::string why) { return {read_status::failed, ec, std::move(why)}; }

class seqpacket_reader final : public reader {
public:
    read_result read(int socket, const frame_handler& handle) override {
        auto r = receive(socket, buffer_);
        if (r.n < 0) return receive_failed(r.error);
        if (r.truncated)
            return failed(errc::frame_too_large,
                          fmt::format("peer sent a datagram larger than {} bytes", max_frame_size));
        if (r.n == 0) return failed(boost::asio::error::eof, "peer closed the channel");

        const auto n = static_cast<std::size_t>(r.n);
        const auto f = decode_frame(byte_view(buffer_.data(), n));
        if (f.status == decode_status::error) return failed(f.error, f.reason);
        if (f.status == decode_status::need_more)
            return failed(errc::truncated_frame,
                          fmt::format("a {}-byte datagram ends inside a frame of {} bytes", n, f.needed));
        if (f.consumed != n)
            return failed(errc::trailing_bytes,
                          fmt::format("a {}-byte datagram holds a {}-byte frame and more", n, f.consumed));
        if (!handle(inbound_frame{f.type, f.payload, std::move(r.fds), r.descriptors_cut}))
            return {read_status::stopped, {}, {}};
        return {};
    }

private:
    std::vector<std::uint8_t> buffer_ = std::vector<std::uint8_t>(max_frame_size);
};

} // namespace

int socket_type() noexcept { return SOCK_SEQPACKET; }

std::unique_ptr<reader> reader::create() { return std::make_unique<seqpacket_reader>(); }

} // namespace clipal::ipc::transport
