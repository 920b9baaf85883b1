// Fuzz target for everything that parses bytes a worker or supervisor receives: the
// frame decoder, every message decoder and the config JSON parser. Besides "no crash,
// no sanitizer report" it checks that whatever decodes re-encodes to the same bytes.
#include "ipc/config_codec.hpp"
#include "ipc/messages.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace {

void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_ipc invariant broken: %s\n", what);
    std::abort();
}

void check_config(std::string_view json) {
    const auto parsed = clipal::ipc::parse_worker_config(json);
    if (!parsed.value) {
        check(!parsed.error.empty(), "a rejected config has an error text");
        return;
    }
    const auto again = clipal::ipc::parse_worker_config(clipal::ipc::to_json(*parsed.value));
    check(again.value && *again.value == *parsed.value, "config JSON round trip");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace clipal::ipc;
    byte_view input(data, size);
    // A stream of frames, as a byte-oriented transport would see it.
    while (!input.empty()) {
        const auto f = decode_frame(input);
        if (f.status != decode_status::frame) {
            check(f.status == decode_status::need_more || !f.reason.empty(), "a frame error has a reason");
            check(f.status != decode_status::need_more || f.needed > input.size(), "need_more asks for more");
            break;
        }
        check(f.consumed >= frame_header_size && f.consumed <= input.size(), "consumed within the input");
        const auto m = decode(f.type, f.payload);
        if (m) {
            const auto e = encode(*m.value);
            check(static_cast<bool>(e), "a decoded message re-encodes");
            check(e.frame.size() == f.consumed && std::equal(e.frame.begin(), e.frame.end(), input.begin()),
                  "re-encoding reproduces the frame");
            if (const auto* push = std::get_if<config_push>(&*m.value)) check_config(push->config_json);
        } else {
            check(!m.reason.empty(), "a rejected payload has a reason");
        }
        input = input.subspan(f.consumed);
    }
    check_config(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
