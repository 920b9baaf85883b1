// Fuzz target for the block of usage rows in a worker report (shared/usage_rows_codec): the
// supervisor reads it from another process. Besides "no crash, no sanitizer report" it checks
// that a block is either rows or an error with no rows, that every row keeps its fields'
// bounds (text UTF-8 and within its size, the status at most 999), and that the rows encode
// again into blocks that read back as the same rows.
#include "shared/text.hpp"
#include "shared/usage_rows_codec.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_usage_rows invariant broken: %s\n", what);
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace clipal;
    const std::string_view block(reinterpret_cast<const char*>(data), size);
    usage_rows_decoder decoder;
    const auto r = decoder.decode(block, "codex");
    if (!r.ok()) {
        check(r.rows.empty(), "an error came with rows");
        check(r.error.rfind("usage rows: ", 0) == 0, "an error that does not say what it is about");
        return 0;
    }
    check(r.rows.size() <= max_report_usage_rows, "more rows than a block holds");
    check(!block.empty() || r.rows.empty(), "rows from an empty block");
    for (const auto& row : r.rows) {
        check(row.profile == "codex", "a row without the caller's profile");
        check(row.provider.size() <= max_usage_provider_size && is_utf8(row.provider), "provider out of bounds");
        check(row.key_fingerprint.size() <= max_usage_fingerprint_size && is_utf8(row.key_fingerprint),
              "key fingerprint out of bounds");
        check(row.model.size() <= max_usage_model_size && is_utf8(row.model), "model out of bounds");
        check(row.status >= 0 && row.status <= max_usage_status, "status out of bounds");
    }
    // The rows were valid, so they encode as they are: the same rows come back.
    const std::vector<usage_row_view> rows(r.rows.begin(), r.rows.end());
    std::vector<std::string> blocks;
    usage_rows_encoder encoder;
    for (const auto& row : rows) {
        if (encoder.add(row)) continue;
        blocks.push_back(encoder.take());
        check(encoder.add(row), "a new block refused a row");
    }
    blocks.push_back(encoder.take());
    std::size_t i = 0;
    usage_rows_decoder again;
    for (const auto& b : blocks) {
        check(b.size() <= max_usage_rows_block_size, "the encoder made a block over its size");
        const auto back = again.decode(b, "codex");
        check(back.ok(), "a block the encoder made does not decode");
        for (const auto& row : back.rows) check(i < rows.size() && row == rows[i++], "a row changed on the way");
    }
    check(i == rows.size(), "rows were lost on the way");
    return 0;
}
