// The portable transport (macOS has no AF_UNIX SOCK_SEQPACKET): AF_UNIX SOCK_STREAM, frames
// reassembled from the byte stream with the incremental decode_frame, each descriptor sent
// with the first byte of its frame (write() in channel_transport.cpp).
//
// Where a descriptor comes out. POSIX only says that ancillary data is received with data;
// this relies on what Linux and the BSDs (macOS) both do: a descriptor is returned by the
// recvmsg that returns the first byte it was sent with, and it is sent only with at least one
// byte (Linux drops SCM_RIGHTS sent without data on a stream socket; a frame is 12 bytes or
// more). How a read groups bytes around a descriptor differs and is not relied on: Linux may
// return bytes sent before it in the same read and stops after the send it came with, BSD
// starts a read at it and may go on past it. So the descriptors of one read belong to the
// frames that start in that read: each frame that carries one takes one, in order, and the
// last frame to start there takes what is left (a frame that must carry none then fails as on
// SOCK_SEQPACKET). A descriptor that came with no frame's first byte is a descriptor_error.
#include "ipc/channel_transport.hpp"

#include "ipc/messages.hpp"

#include <boost/asio/error.hpp>
#include <fmt/format.h>

#include <sys/socket.h>

#include <cstring>
#include <deque>

namespace clipal::ipc::transport {
namespace {

read_result failed(boost::system::error_code ec, std::string why) { return {read_status::failed, ec, std::move(why)}; }

read_result misplaced_descriptor() {
    return failed(errc::descriptor_error, "peer sent a descriptor inside a frame instead of with its first byte");
}

class stream_reader final : public reader {
public:
    read_result read(int socket, const frame_handler& handle) override {
        auto r = read_some(socket, handle);
        // The channel never reads again after these: descriptors held for frames not handed
        // on are closed now, not with the channel object, which may outlive its socket.
        if (r.status == read_status::stopped || r.status == read_status::failed) batches_.clear();
        return r;
    }

private:
    read_result read_some(int socket, const frame_handler& handle) {
        make_room();
        auto r = receive(socket, std::span(buffer_).subspan(end_));
        if (r.n < 0) return receive_failed(r.error);
        if (r.n == 0) return end_of_stream();
        const std::uint64_t first = offset_ + (end_ - begin_);
        end_ += static_cast<std::size_t>(r.n);
        if (!r.fds.empty() || r.descriptors_cut)
            batches_.push_back(
                batch{first, first + static_cast<std::uint64_t>(r.n), std::move(r.fds), 0, r.descriptors_cut});
        return deliver(handle);
    }

    // Descriptors that came with one read, kept until every frame that starts in that read has
    // taken its share. At most two are kept at a time: the read the partial frame started in
    // and the newest one (deliver() fails on any other).
    struct batch {
        std::uint64_t begin = 0, end = 0; // stream offsets of the read's bytes
        std::vector<unique_fd> fds;
        std::size_t taken = 0; // fds[0, taken) are handed on
        bool cut = false;      // MSG_CTRUNC, not yet blamed on a frame
    };

    // Bytes per read beyond a max frame: the whole buffer is one max frame plus this.
    static constexpr std::size_t read_chunk = 64 * 1024;

    byte_view unparsed() const { return byte_view(buffer_.data() + begin_, end_ - begin_); }

    void make_room() {
        if (begin_ == end_) {
            begin_ = end_ = 0;
        } else if (buffer_.size() - end_ < read_chunk) {
            // A partial frame is shorter than max_frame_size, so at its front it leaves at
            // least read_chunk bytes free.
            std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
            end_ -= begin_;
            begin_ = 0;
        }
    }

    read_result end_of_stream() const {
        if (begin_ == end_) return failed(boost::asio::error::eof, "peer closed the channel");
        // Complete frames were handed on and bad headers failed, so this is a partial frame.
        const std::size_t have = end_ - begin_;
        if (have < frame_header_size)
            return failed(errc::truncated_frame, fmt::format("peer closed the channel inside a frame header ({} of {} "
                                                             "bytes arrived)",
                                                             have, frame_header_size));
        return failed(errc::truncated_frame,
                      fmt::format("peer closed the channel inside a frame ({} of {} bytes arrived)", have,
                                  decode_frame(unparsed()).needed));
    }

    read_result deliver(const frame_handler& handle) {
        for (;;) {
            const auto f = decode_frame(unparsed());
            if (f.status == decode_status::error) return failed(f.error, f.reason);
            if (f.status == decode_status::need_more) {
                // Every byte after the partial frame's first is part of it.
                if (!batches_.empty() && batches_.back().begin > offset_) return misplaced_descriptor();
                return {};
            }
            const std::uint64_t next = offset_ + f.consumed;
            inbound_frame in{f.type, f.payload, {}, false};
            attach(in, next);
            // A read that brought descriptors and no frame's first byte: they came inside this frame.
            if (!batches_.empty() && batches_.front().end <= next) return misplaced_descriptor();
            begin_ += f.consumed;
            offset_ = next;
            if (!handle(std::move(in))) return {read_status::stopped, {}, {}};
        }
    }

    // Gives the frame at offset_ (ending at `next`) its share of the descriptors of the read
    // it starts in.
    void attach(inbound_frame& in, std::uint64_t next) {
        if (batches_.empty() || batches_.front().begin > offset_) return;
        batch& b = batches_.front();
        if (is_known_type(in.type) && carries_descriptor(static_cast<message_type>(in.type))) {
            if (b.taken < b.fds.size()) {
                in.fds.push_back(std::move(b.fds[b.taken++]));
            } else if (b.cut) {
                // Its descriptor is the one the kernel could not pass on (MSG_CTRUNC).
                in.descriptors_cut = true;
                b.cut = false;
            }
        }
        if (b.end > next) return; // another frame starts in that read
        for (; b.taken < b.fds.size(); ++b.taken) in.fds.push_back(std::move(b.fds[b.taken]));
        in.descriptors_cut = in.descriptors_cut || b.cut;
        batches_.pop_front();
    }

    std::vector<std::uint8_t> buffer_ = std::vector<std::uint8_t>(max_frame_size + read_chunk);
    std::size_t begin_ = 0, end_ = 0; // buffer_[begin_, end_) is not handed on yet
    std::uint64_t offset_ = 0;        // stream offset of buffer_[begin_], the next frame's first byte
    std::deque<batch> batches_;
};

} // namespace

int socket_type() noexcept { return SOCK_STREAM; }

std::unique_ptr<reader> reader::create() { return std::make_unique<stream_reader>(); }

} // namespace clipal::ipc::transport
