// What only the SOCK_STREAM transport (channel_transport_stream.cpp, the portable tree) can
// show: frames reassembled from however the bytes arrive, descriptors tied to the frame
// whose first byte they came with, and a sender that may write part of a frame. Built only
// where that transport is.
#include "ipc/channel.hpp"

#include "ipc/channel_transport.hpp"
#include "unit/ipc/channel_test_support.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <string>

using namespace clipal::ipc;
using namespace clipal::test;

namespace {

// A channel on the supervisor end whose deliveries are recorded; the test plays the worker
// with raw writes on `peer` and runs the loop with poll() after each, so every write is a
// read of its own.
struct stream_fixture {
    boost::asio::io_context ioc;
    socket_pair p = make_pair();
    std::shared_ptr<channel> ch = channel::create(ioc.get_executor(), std::move(p.supervisor_end));
    received r;
    int peer = p.worker_end.get();

    stream_fixture() {
        record(ch, r, ioc, [](const received&) { return false; });
    }
    void poll() {
        ioc.restart();
        ioc.poll();
    }
    void write(const bytes& data, int fd = -1) {
        raw_send(peer, data, fd);
        poll();
    }
};

bytes concat(std::initializer_list<bytes> parts) {
    bytes out;
    for (const auto& b : parts) out.insert(out.end(), b.begin(), b.end());
    return out;
}

bytes slice(const bytes& b, std::size_t from, std::size_t to) {
    return bytes(b.begin() + static_cast<std::ptrdiff_t>(from), b.begin() + static_cast<std::ptrdiff_t>(to));
}

// True when `fd` is the write end of `pipe`: a byte written to it comes out of the read end.
bool connects(const unique_fd& fd, const pipe_fds& pipe) {
    char c = 0;
    return ::write(fd.get(), "x", 1) == 1 && ::read(pipe.read_end.get(), &c, 1) == 1 && c == 'x';
}

// True when no copy of `pipe`'s write end is left open but the one the test may still hold.
bool write_end_gone(pipe_fds& pipe) {
    pipe.write_end.reset();
    char c;
    return ::read(pipe.read_end.get(), &c, 1) == 0;
}

const handoff sample_handoff{42, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.1:5000"};

} // namespace

TEST(ChannelStream, FramesArriveWhenThePeerWritesOneByteAtATime) {
    stream_fixture t;
    auto pipe = make_pipe();
    const bytes first = encoded(hello{protocol_version, "codex", 77, "0.1.0"});
    const bytes second = encoded(sample_handoff);
    const bytes third = encoded(heartbeat{9});
    const bytes all = concat({first, second, third});
    for (std::size_t i = 0; i < all.size(); ++i) {
        // The descriptor goes with the handoff's first byte, as the channel sends it.
        t.write(bytes{all[i]}, i == first.size() ? pipe.write_end.get() : -1);
        const std::size_t complete =
            (i + 1 >= first.size()) + (i + 1 >= first.size() + second.size()) + (i + 1 >= all.size());
        ASSERT_EQ(t.r.messages.size(), complete) << "after byte " << i;
    }
    ASSERT_FALSE(t.r.closed) << t.r.why;
    EXPECT_EQ(t.r.messages[0], message(hello{protocol_version, "codex", 77, "0.1.0"}));
    EXPECT_EQ(t.r.messages[1], message(sample_handoff));
    EXPECT_EQ(t.r.messages[2], message(heartbeat{9}));
    EXPECT_FALSE(t.r.fds[0]);
    ASSERT_TRUE(t.r.fds[1]);
    EXPECT_TRUE(connects(t.r.fds[1], pipe));
    EXPECT_FALSE(t.r.fds[2]);
}

TEST(ChannelStream, SeveralFramesInOneWriteAllArriveInOrder) {
    stream_fixture t;
    t.write(concat({encoded(ready{1}), encoded(heartbeat{2}), encoded(config_ack{3, true, ""})}));
    ASSERT_FALSE(t.r.closed) << t.r.why;
    ASSERT_EQ(t.r.messages.size(), 3u);
    EXPECT_EQ(t.r.messages[0], message(ready{1}));
    EXPECT_EQ(t.r.messages[1], message(heartbeat{2}));
    EXPECT_EQ(t.r.messages[2], message(config_ack{3, true, ""}));
}

// How the BSDs group a read: it starts at the descriptor and may go on past its frame.
TEST(ChannelStream, ADescriptorReadWithTheFramesAfterItsOwnGoesToItsOwn) {
    stream_fixture t;
    auto pipe = make_pipe();
    t.write(concat({encoded(sample_handoff), encoded(heartbeat{1})}), pipe.write_end.get());
    ASSERT_FALSE(t.r.closed) << t.r.why;
    ASSERT_EQ(t.r.messages.size(), 2u);
    ASSERT_TRUE(t.r.fds[0]);
    EXPECT_TRUE(connects(t.r.fds[0], pipe));
    EXPECT_FALSE(t.r.fds[1]);
}

// How Linux groups a read: bytes sent before the descriptor come out with it.
TEST(ChannelStream, FramesReadInFrontOfAHandoffLeaveItItsDescriptor) {
    stream_fixture t;
    auto pipe = make_pipe();
    raw_send(t.peer, encoded(heartbeat{1}));
    raw_send(t.peer, encoded(ready{2}));
    t.write(encoded(sample_handoff), pipe.write_end.get());
    ASSERT_FALSE(t.r.closed) << t.r.why;
    ASSERT_EQ(t.r.messages.size(), 3u);
    EXPECT_FALSE(t.r.fds[0]);
    EXPECT_FALSE(t.r.fds[1]);
    ASSERT_TRUE(t.r.fds[2]);
    EXPECT_TRUE(connects(t.r.fds[2], pipe));
}

TEST(ChannelStream, TwoHandoffsInOneWriteTakeItsTwoDescriptorsInOrder) {
    stream_fixture t;
    auto a = make_pipe();
    auto b = make_pipe();
    const bytes frames = concat({encoded(handoff{1, "GET", "x"}), encoded(handoff{2, "GET", "y"})});
    const int fds[2] = {a.write_end.get(), b.write_end.get()};
    raw_send(t.peer, frames, fds);
    t.poll();
    ASSERT_FALSE(t.r.closed) << t.r.why;
    ASSERT_EQ(t.r.messages.size(), 2u);
    EXPECT_TRUE(connects(t.r.fds[0], a));
    EXPECT_TRUE(connects(t.r.fds[1], b));
}

TEST(ChannelStream, AHandoffSplitAcrossWritesKeepsTheDescriptorOfItsFirstByte) {
    stream_fixture t;
    auto pipe = make_pipe();
    const bytes f = encoded(sample_handoff);
    t.write(slice(f, 0, 1), pipe.write_end.get());
    t.write(slice(f, 1, 20));
    t.write(slice(f, 20, f.size() - 1));
    EXPECT_TRUE(t.r.messages.empty());
    t.write(slice(f, f.size() - 1, f.size()));
    ASSERT_FALSE(t.r.closed) << t.r.why;
    ASSERT_EQ(t.r.messages.size(), 1u);
    EXPECT_EQ(t.r.messages[0], message(sample_handoff));
    ASSERT_TRUE(t.r.fds[0]);
    EXPECT_TRUE(connects(t.r.fds[0], pipe));
}

// A max-size frame never fits the buffer's free room after smaller frames: the partial frame
// moves to the front, and the buffer stays one max frame plus one read.
TEST(ChannelStream, MaxSizeFramesArriveInOddPiecesBetweenSmallOnes) {
    stream_fixture t;
    status_reply big{1, std::string(max_payload_size - 12, 'j')};
    const bytes max_frame = encoded(big);
    ASSERT_EQ(max_frame.size(), max_frame_size);
    const bytes all =
        concat({encoded(heartbeat{1}), max_frame, encoded(heartbeat{2}), max_frame, max_frame, encoded(heartbeat{3})});
    for (std::size_t at = 0; at < all.size(); at += 70'001) t.write(slice(all, at, std::min(all.size(), at + 70'001)));
    ASSERT_FALSE(t.r.closed) << t.r.why;
    ASSERT_EQ(t.r.messages.size(), 6u);
    EXPECT_EQ(t.r.messages[1], message(big));
    EXPECT_EQ(t.r.messages[2], message(heartbeat{2}));
    EXPECT_EQ(t.r.messages[4], message(big));
    EXPECT_EQ(t.r.messages[5], message(heartbeat{3}));
}

TEST(ChannelStream, BadMagicMidStreamClosesTheChannelAfterTheGoodFrames) {
    stream_fixture t;
    t.write(concat({encoded(heartbeat{1}), bytes{'G', 'E', 'T', ' ', '/'}}));
    ASSERT_TRUE(t.r.closed);
    EXPECT_EQ(t.r.ec, make_error_code(errc::bad_magic));
    EXPECT_EQ(t.r.why, "frame does not start with the IPC magic \"CLPI\"");
    ASSERT_EQ(t.r.messages.size(), 1u);
    EXPECT_EQ(t.r.messages[0], message(heartbeat{1}));
}

TEST(ChannelStream, OversizeLengthMidStreamClosesAsSoonAsTheHeaderArrives) {
    stream_fixture t;
    const auto header = encode_frame_header(static_cast<std::uint16_t>(message_type::status_reply),
                                            static_cast<std::uint32_t>(max_payload_size + 1));
    // The header only: the channel must not wait for (or buffer) the payload it announces.
    t.write(concat({encoded(heartbeat{1}), bytes(header.begin(), header.end())}));
    ASSERT_TRUE(t.r.closed);
    EXPECT_EQ(t.r.ec, make_error_code(errc::frame_too_large));
    EXPECT_NE(t.r.why.find("declares a 262133-byte payload, the limit is 262132"), std::string::npos) << t.r.why;
    EXPECT_EQ(t.r.messages.size(), 1u);
}

TEST(ChannelStream, AnotherVersionMidStreamClosesTheChannel) {
    stream_fixture t;
    bytes f = encoded(heartbeat{2});
    f[4] = 2; // protocol version 2
    t.write(concat({encoded(heartbeat{1}), slice(f, 0, 6)}));
    EXPECT_FALSE(t.r.closed) << "the version is not complete yet";
    t.write(slice(f, 6, f.size()));
    ASSERT_TRUE(t.r.closed);
    EXPECT_EQ(t.r.ec, make_error_code(errc::bad_version));
    EXPECT_EQ(t.r.why, "peer speaks IPC protocol version 2, this build speaks 1");
}

TEST(ChannelStream, PeerClosingInsideAFrameIsATruncatedFrame) {
    stream_fixture t;
    const bytes f = encoded(config_ack{1, true, ""});
    t.write(concat({encoded(heartbeat{1}), slice(f, 0, f.size() - 3)}));
    t.p.worker_end.reset();
    t.poll();
    ASSERT_TRUE(t.r.closed);
    EXPECT_EQ(t.r.ec, make_error_code(errc::truncated_frame));
    EXPECT_EQ(t.r.why,
              fmt::format("peer closed the channel inside a frame ({} of {} bytes arrived)", f.size() - 3, f.size()));
    EXPECT_EQ(t.r.messages.size(), 1u);
}

TEST(ChannelStream, PeerClosingInsideAFrameHeaderIsATruncatedFrame) {
    stream_fixture t;
    t.write(slice(encoded(heartbeat{1}), 0, 5));
    t.p.worker_end.reset();
    t.poll();
    ASSERT_TRUE(t.r.closed);
    EXPECT_EQ(t.r.ec, make_error_code(errc::truncated_frame));
    EXPECT_EQ(t.r.why, "peer closed the channel inside a frame header (5 of 12 bytes arrived)");
}

TEST(ChannelStream, ADescriptorSentInsideAFrameClosesTheChannelAndIsClosed) {
    stream_fixture t;
    auto pipe = make_pipe();
    const bytes f = encoded(heartbeat{1});
    t.write(slice(f, 0, 4));
    t.write(slice(f, 4, 8), pipe.write_end.get());
    ASSERT_TRUE(t.r.closed);
    EXPECT_EQ(t.r.ec, make_error_code(errc::descriptor_error));
    EXPECT_EQ(t.r.why, "peer sent a descriptor inside a frame instead of with its first byte");
    EXPECT_TRUE(write_end_gone(pipe)) << "the received copy is closed with the error, not with the channel";
}

TEST(ChannelStream, ADescriptorWithTheLastBytesOfAFrameClosesTheChannel) {
    stream_fixture t;
    auto pipe = make_pipe();
    const bytes f = encoded(sample_handoff);
    t.write(slice(f, 0, 10));
    t.write(slice(f, 10, f.size()), pipe.write_end.get());
    ASSERT_TRUE(t.r.closed);
    EXPECT_EQ(t.r.ec, make_error_code(errc::descriptor_error));
    EXPECT_TRUE(t.r.messages.empty());
    EXPECT_TRUE(write_end_gone(pipe));
}

TEST(ChannelStream, AHandoffWithoutItsDescriptorDoesNotTakeTheNextFramesOne) {
    stream_fixture t;
    auto pipe = make_pipe();
    const bytes f = encoded(handoff_back{1, "GET", "x"});
    t.write(slice(f, 0, 10));
    // The read that completes the handoff brings a descriptor, sent with the heartbeat's first byte.
    t.write(concat({slice(f, 10, f.size()), encoded(heartbeat{2})}), pipe.write_end.get());
    ASSERT_TRUE(t.r.closed);
    EXPECT_EQ(t.r.ec, make_error_code(errc::descriptor_error));
    EXPECT_EQ(t.r.why, "handoff_back arrived with 0 descriptors, expected 1");
    EXPECT_TRUE(t.r.messages.empty());
}

TEST(ChannelStream, ADescriptorLeftOverAfterTheHandoffsOfItsReadClosesTheChannel) {
    stream_fixture t;
    auto pipe = make_pipe();
    t.write(concat({encoded(heartbeat{1}), encoded(ready{2})}), pipe.write_end.get());
    ASSERT_TRUE(t.r.closed);
    EXPECT_EQ(t.r.ec, make_error_code(errc::descriptor_error));
    EXPECT_EQ(t.r.why, "ready arrived with 1 descriptors, expected 0");
    EXPECT_EQ(t.r.messages.size(), 1u) << "the frames before the last of that read are handed on";
    EXPECT_TRUE(write_end_gone(pipe));
}

// The sender's half: a stream socket takes part of a frame when it is full. The descriptor
// must go with the frame's first byte exactly once, also after a send that took nothing.
TEST(StreamTransport, APartialWriteSendsTheDescriptorOnceWithTheFramesFirstByte) {
    int s[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, s), 0);
    unique_fd sender(s[0]), receiver(s[1]);
    const int small = 16 * 1024;
    ASSERT_EQ(::setsockopt(sender.get(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);

    // Fill the socket so that the first attempt takes nothing.
    std::uint64_t junk = 0;
    const bytes filler(1024, 0);
    for (ssize_t n; (n = ::send(sender.get(), filler.data(), filler.size(), MSG_DONTWAIT)) > 0;) junk += n;
    ASSERT_GT(junk, 0u);

    auto pipe = make_pipe();
    const bytes frame = encoded(handoff{7, std::string(100'000, 'h'), "a"});
    std::size_t sent = 0;
    ASSERT_EQ(transport::write(sender.get(), frame, sent, pipe.write_end.get()), transport::write_status::would_block);
    ASSERT_EQ(sent, 0u);

    bytes stream;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> reads_with_fds; // [begin, end) of each
    std::vector<unique_fd> fds;
    bool partial = false;
    std::uint8_t buf[4096];
    for (int rounds = 0; rounds < 100'000 && stream.size() < junk + frame.size(); ++rounds) {
        if (sent < frame.size()) {
            const auto st = transport::write(sender.get(), frame, sent, pipe.write_end.get());
            partial = partial || (st == transport::write_status::would_block && sent > 0 && sent < frame.size());
            ASSERT_NE(st, transport::write_status::failed) << std::strerror(errno);
        }
        auto r = transport::receive(receiver.get(), buf);
        if (r.n <= 0) continue;
        if (!r.fds.empty()) reads_with_fds.emplace_back(stream.size(), stream.size() + r.n);
        for (auto& fd : r.fds) fds.push_back(std::move(fd));
        stream.insert(stream.end(), buf, buf + r.n);
    }
    ASSERT_EQ(sent, frame.size());
    EXPECT_TRUE(partial) << "the frame went out in one piece: the test did not test a partial write";
    ASSERT_EQ(stream.size(), junk + frame.size());
    EXPECT_EQ(slice(stream, junk, stream.size()), frame);
    ASSERT_EQ(fds.size(), 1u);
    EXPECT_LE(reads_with_fds[0].first, junk);
    EXPECT_GT(reads_with_fds[0].second, junk) << "the descriptor came with the frame's first byte";
    EXPECT_TRUE(connects(fds[0], pipe));
}
