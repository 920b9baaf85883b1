// What only the SOCK_SEQPACKET transport (channel_transport_seqpacket.cpp, the Linux tree)
// can show: a datagram must be exactly one frame. Built only where that transport is.
#include "ipc/channel.hpp"

#include "unit/ipc/channel_test_support.hpp"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

using namespace clipal::ipc;
using namespace clipal::test;

TEST(ChannelSeqpacket, TruncatedAndPaddedDatagramsCloseTheChannel) {
    for (const bool pad : {false, true}) {
        boost::asio::io_context ioc;
        auto p = make_pair();
        auto ch = channel::create(ioc.get_executor(), std::move(p.supervisor_end));
        received r;
        record(ch, r, ioc, closed);
        auto f = encoded(ready{3});
        if (pad)
            f.push_back(0);
        else
            f.pop_back();
        raw_send(p.worker_end.get(), f);
        run(ioc);
        ASSERT_TRUE(r.closed);
        EXPECT_EQ(r.ec, make_error_code(pad ? errc::trailing_bytes : errc::truncated_frame));
    }
}

TEST(ChannelSeqpacket, OversizeDatagramClosesTheChannel) {
    boost::asio::io_context ioc;
    auto p = make_pair();
    auto ch = channel::create(ioc.get_executor(), std::move(p.supervisor_end));
    received r;
    record(ch, r, ioc, closed);
    auto f = encoded(heartbeat{1});
    f.resize(max_frame_size + 100, 0);
    raw_send(p.worker_end.get(), f);
    run(ioc);
    ASSERT_TRUE(r.closed);
    EXPECT_EQ(r.ec, make_error_code(errc::frame_too_large));
}
