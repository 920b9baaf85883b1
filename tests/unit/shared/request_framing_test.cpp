#include "shared/request_framing.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace clipal {
namespace {

using body_kind = request_framing::body_kind;

request_framing frame(std::vector<header_field> fields, unsigned version = 11) {
    return frame_request(version, fields);
}

TEST(RequestFraming, NoBodyWithoutContentLengthOrTransferEncoding) {
    const auto f = frame({{"Host", "127.0.0.1:3333"}, {"Accept", "*/*"}});
    EXPECT_EQ(f.error, framing_error::none);
    EXPECT_EQ(f.body, body_kind::none);
}

TEST(RequestFraming, ContentLengthAndChunkedAreAccepted) {
    const auto cl = frame({{"Host", "h"}, {"Content-Length", "42"}});
    EXPECT_EQ(cl.error, framing_error::none);
    EXPECT_EQ(cl.body, body_kind::length);
    EXPECT_EQ(cl.length, 42u);
    const auto zero = frame({{"Host", "h"}, {"content-length", "0"}});
    EXPECT_EQ(zero.body, body_kind::length);
    EXPECT_EQ(zero.length, 0u);
    for (const char* v : {"chunked", "Chunked", "CHUNKED", " chunked ", ",chunked", "chunked,"}) {
        const auto te = frame({{"Host", "h"}, {"Transfer-Encoding", v}});
        EXPECT_EQ(te.error, framing_error::none) << v;
        EXPECT_EQ(te.body, body_kind::chunked) << v;
    }
}

TEST(RequestFraming, TransferEncodingNotEndingInChunkedIsRefused) {
    // TE.0: read as "no body", the body would be served as the next request.
    for (const char* v : {"gzip", "identity", "chunked, gzip", "chunkedx", "chunked;a=b", "", " , ", "x chunked"}) {
        const auto f = frame({{"Host", "h"}, {"Transfer-Encoding", v}});
        EXPECT_EQ(f.error, framing_error::not_chunked_last) << v;
        EXPECT_EQ(status_of(f.error), 400);
    }
    // Two field lines form one list: the last coding counts.
    EXPECT_EQ(frame({{"Host", "h"}, {"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "gzip"}}).error,
              framing_error::not_chunked_last);
}

TEST(RequestFraming, OtherCodingsBeforeChunkedAreNotImplemented) {
    const auto f = frame({{"Host", "h"}, {"Transfer-Encoding", "gzip, chunked"}});
    EXPECT_EQ(f.error, framing_error::unsupported_coding);
    EXPECT_EQ(status_of(f.error), 501);
    EXPECT_EQ(frame({{"Host", "h"}, {"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}}).error,
              framing_error::unsupported_coding);
    EXPECT_EQ(frame({{"Host", "h"}, {"Transfer-Encoding", "chunked, chunked"}}).error, framing_error::chunked_repeated);
    EXPECT_EQ(frame({{"Host", "h"}, {"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "chunked"}}).error,
              framing_error::chunked_repeated);
}

TEST(RequestFraming, ContentLengthWithTransferEncodingIsRefusedInEitherOrder) {
    EXPECT_EQ(frame({{"Host", "h"}, {"Content-Length", "5"}, {"Transfer-Encoding", "chunked"}}).error,
              framing_error::length_with_transfer);
    EXPECT_EQ(frame({{"Host", "h"}, {"Transfer-Encoding", "chunked"}, {"Content-Length", "5"}}).error,
              framing_error::length_with_transfer);
    EXPECT_EQ(frame({{"Host", "h"}, {"Transfer-Encoding", "gzip"}, {"Content-Length", "5"}}).error,
              framing_error::length_with_transfer);
}

TEST(RequestFraming, SeveralContentLengthsAreRefusedEvenWhenEqual) {
    EXPECT_EQ(frame({{"Host", "h"}, {"Content-Length", "5"}, {"Content-Length", "5"}}).error,
              framing_error::length_repeated);
    EXPECT_EQ(frame({{"Host", "h"}, {"Content-Length", "5"}, {"Content-Length", "6"}}).error,
              framing_error::length_repeated);
    EXPECT_EQ(frame({{"Host", "h"}, {"Content-Length", "5, 5"}}).error, framing_error::length_repeated);
    EXPECT_EQ(frame({{"Host", "h"}, {"Content-Length", "5,"}}).error, framing_error::length_repeated);
}

TEST(RequestFraming, ContentLengthMustBeDigitsThatFit) {
    for (const char* v : {"", "-1", "+5", "0x10", "5 5", "1e3", "five", "18446744073709551616"}) {
        const auto f = frame({{"Host", "h"}, {"Content-Length", v}});
        EXPECT_EQ(f.error, framing_error::length_invalid) << v;
        EXPECT_EQ(f.body, body_kind::none) << v;
    }
    const auto max = frame({{"Host", "h"}, {"Content-Length", "18446744073709551615"}});
    EXPECT_EQ(max.error, framing_error::none);
    EXPECT_EQ(max.length, 18446744073709551615u);
    EXPECT_EQ(frame({{"Host", "h"}, {"Content-Length", " 7\t"}}).length, 7u);
}

TEST(RequestFraming, Http11NeedsExactlyOneHost) {
    EXPECT_EQ(frame({{"Content-Length", "0"}}).error, framing_error::host_missing);
    EXPECT_EQ(frame({}).error, framing_error::host_missing);
    EXPECT_EQ(frame({{"Host", "a"}, {"HOST", "b"}}).error, framing_error::host_repeated);
    EXPECT_EQ(frame({{"Host", ""}}).error, framing_error::none); // which values pass is the guard's
    EXPECT_EQ(frame({}, 10).error, framing_error::none);         // HTTP/1.0 may omit it
    EXPECT_EQ(frame({{"Host", "a"}, {"Host", "a"}}, 10).error, framing_error::host_repeated);
}

TEST(RequestFraming, TransferEncodingInHttp10IsRefused) {
    EXPECT_EQ(frame({{"Transfer-Encoding", "chunked"}}, 10).error, framing_error::transfer_in_http10);
}

TEST(RequestFraming, EveryErrorIsDescribed) {
    for (const auto e :
         {framing_error::host_missing, framing_error::host_repeated, framing_error::transfer_in_http10,
          framing_error::not_chunked_last, framing_error::chunked_repeated, framing_error::unsupported_coding,
          framing_error::length_with_transfer, framing_error::length_repeated, framing_error::length_invalid}) {
        EXPECT_FALSE(describe(e).empty());
        EXPECT_TRUE(status_of(e) == 400 || status_of(e) == 501);
    }
}

} // namespace
} // namespace clipal
