// Fuzz target for worker/usage_meter: whatever bytes an upstream streams back, however they are
// split into pieces. The input is one byte of flags, then the body:
//   bits 0-1  Content-Type: text/event-stream, application/json, none, text/plain (sniffed)
//   bits 2-3  Content-Encoding: identity; gzip and raw deflate (the target compresses the body);
//             gzip over the raw body (zlib sees the fuzzer's bytes)
//   bits 4-7  seed of the piece sizes
// Each byte 0x01 in the body stands for 4 KiB of 'a' (at most 48 of them), so small inputs
// reach the lines and bodies longer than usage_meter::whole_bytes.
//
// Invariants besides "no crash": retained_bytes() stays within max_retained_bytes after every
// piece; the result does not depend on the split (whole, random pieces, one byte at a time
// for short bodies); a compressed body gives what the plain body gives; a meter that stopped
// says nothing; a model name is short UTF-8.
#include "shared/text.hpp"
#include "worker/usage_meter.hpp"

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using clipal::worker::usage_meter;
using clipal::worker::usage_result;

void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_usage_meter invariant broken: %s\n", what);
    std::abort();
}

constexpr std::string_view types[] = {"text/event-stream", "application/json; charset=UTF-8", "", "text/plain"};

std::string expand(std::string_view in) {
    std::string out;
    for (int expansions = 0; !in.empty();) {
        const auto at = in.find('\x01');
        out.append(in.substr(0, at));
        if (at == std::string_view::npos) break;
        if (expansions++ < 48)
            out.append(4096, 'a');
        else
            out += '\x01';
        in.remove_prefix(at + 1);
    }
    return out;
}

// window_bits 31: gzip; -15: raw deflate.
std::string compress(std::string_view in, int window_bits) {
    z_stream zs{};
    if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
    std::string out(deflateBound(&zs, static_cast<uLong>(in.size())) + 32, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    check(deflate(&zs, Z_FINISH) == Z_STREAM_END, "deflate");
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

// Feeds `body` in pieces: whole (seed 0), one byte at a time (seed 1), else pseudo-random
// sizes from 1 to 2^k.
usage_result run(std::string_view type, std::string_view encoding, std::string_view body, unsigned seed) {
    usage_meter m(type, encoding);
    std::uint32_t x = seed * 2654435761u + 1;
    while (!body.empty()) {
        std::size_t n = body.size();
        if (seed == 1) {
            n = 1;
        } else if (seed > 1) {
            x = x * 1664525u + 1013904223u;
            n = 1 + (x >> 8) % (std::size_t{1} << (x >> 28)); // 1 .. 2^15
        }
        n = std::min(n, body.size());
        m.feed(body.substr(0, n));
        body.remove_prefix(n);
        check(m.retained_bytes() <= usage_meter::max_retained_bytes, "retained_bytes within max_retained_bytes");
    }
    const bool metering = m.metering();
    const usage_result r = m.finish();
    if (!metering) check(r == usage_result{}, "a meter that stopped says nothing");
    check(r.model.size() <= usage_meter::max_model_bytes && clipal::is_utf8(r.model), "model is short UTF-8");
    check(m.finish() == r, "finish() again gives the same");
    check(m.retained_bytes() == 0, "nothing retained after finish()");
    return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const unsigned flags = data[0];
    const std::string_view type = types[flags & 3];
    const unsigned coding = (flags >> 2) & 3;
    const unsigned seed = 2 + (flags >> 4);
    const std::string plain = expand(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));

    const usage_result expected = run(type, "", plain, 0);
    std::string body;
    std::string_view encoding;
    switch (coding) {
    case 0: body = plain; break;
    case 1:
        body = compress(plain, 31);
        encoding = "gzip";
        break;
    case 2:
        body = compress(plain, -15);
        encoding = "deflate";
        break;
    default:
        body = plain;
        encoding = "gzip";
        break;
    }
    const usage_result whole = run(type, encoding, body, 0);
    if (coding == 1 || coding == 2) check(whole == expected, "a compressed body reads like the plain one");
    check(run(type, encoding, body, seed) == whole, "pieces of random sizes read like the whole body");
    if (body.size() <= 8192) check(run(type, encoding, body, 1) == whole, "one byte at a time reads like the whole");
    return 0;
}
