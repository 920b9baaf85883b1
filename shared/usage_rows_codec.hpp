// The finished-request rows of a worker report (issue 15) as one compact binary block, the
// `rows` of ipc::worker_report beside the report's JSON. A row is made once per request
// on the worker's data path and read once by the supervisor on its way to usage.db, so
// the format is chosen for speed on both ends: varints, no field names, and the texts
// that repeat from row to row (provider, key fingerprint, model) written once per block
// and referred to after that. The profile is not in it: the supervisor knows whose worker
// sent the block. Pure code.
//
// Block (an empty string is a block of no rows):
//   u8 version (1), u16 row count (little-endian), the rows
// Row:
//   u8 flags       bit 0 ttfb_ms, 1 input, 2 output, 3 cache_read, 4 cache_write present; 5-7 zero
//   svarint        time_ms minus the previous row's (the first row's minus 0), zigzag
//   text × 3       provider, key_fingerprint, model
//   varint         status (<= max_usage_status), attempts (<= 2^32-1),
//                  [ttfb_ms (<= 2^32-1)], duration_ms (<= 2^32-1),
//                  [input_tokens] [output_tokens] [cache_read_tokens] [cache_write_tokens]
// Text:
//   varint ref     0: a new text follows, varint length then the bytes (well-formed UTF-8
//                     within the field's bound); it becomes the block's next entry (1, 2, ...)
//                  k: entry k again (it must exist and be within this field's bound)
// varint: LEB128, at most 10 bytes, its value within u64.
#pragma once

#include "shared/usage_record.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace clipal {

inline constexpr std::uint8_t usage_rows_version = 1;

// Bounds, checked by the decoder; the encoder cuts text to them and never writes more.
inline constexpr std::size_t max_report_usage_rows = 8192;
inline constexpr std::size_t max_usage_provider_size = 256;
inline constexpr std::size_t max_usage_fingerprint_size = 64;
inline constexpr std::size_t max_usage_model_size = 256;
inline constexpr int max_usage_status = 999;
// A block's bytes at most: the encoder starts another block before a row could pass it,
// so that a report always fits one IPC frame (ipc/messages.hpp's max_report_rows_size).
inline constexpr std::size_t max_usage_rows_block_size = 160 * 1024;

// Builds one block, a row at a time, straight from the rows the worker's data path hands
// it: no allocation per row (the block's buffer and its dictionary grow geometrically).
// Text is made well-formed UTF-8 and cut to its bound (as to_json does) once per distinct
// text of the block. Not thread-safe.
class usage_rows_encoder {
public:
    // `max_rows`: 1 to max_report_usage_rows (a value outside is taken as the nearest).
    explicit usage_rows_encoder(std::size_t max_rows = max_report_usage_rows);

    // Appends `row` (its profile is left out). False, and nothing appended, when the block
    // holds max_rows rows, or this row might take it past max_usage_rows_block_size.
    bool add(const usage_row_view& row);
    std::size_t rows() const { return rows_; }

    // The block ("" when no row was added); the encoder starts a new, empty one.
    std::string take();

private:
    // The block's text entries, as offsets into out_ (which moves as it grows).
    struct entry {
        std::uint32_t at;
        std::uint32_t size;
    };
    // Writes one text field that is not the field's text in the previous row at p (in
    // `row`, the row being built) and returns the end.
    std::uint8_t* put_text(const std::uint8_t* row, std::uint8_t* p, std::string_view text, std::size_t limit,
                           std::size_t field);

    std::size_t max_rows_;
    std::size_t rows_ = 0;
    std::string out_;
    std::vector<entry> entries_;
    std::array<std::uint32_t, 3> last_{}; // per text field, its entry in the previous row (1-based)
    std::int64_t previous_time_ = 0;
};

struct usage_rows_decode_result {
    std::span<const usage_row_view> rows; // valid until the decoder's next decode
    std::string error;                    // set (and rows empty) when the block is not one
    bool ok() const { return error.empty(); }
};

// Reads blocks from another process, so any bytes are either rows or an error that says
// where and what (wrong version, a row count over max_report_usage_rows or more than the
// bytes could hold, a varint that is cut or too long, a value out of its field's range,
// unknown flag bits, text that is not UTF-8 or over its bound, a reference to an entry
// the block has not defined, bytes after the last row). Reuses its buffers from block to
// block. Never throws (beyond std::bad_alloc). Not thread-safe.
class usage_rows_decoder {
public:
    // Every row gets `profile`; the rows view `block` and `profile`, which must outlive them.
    usage_rows_decode_result decode(std::string_view block, std::string_view profile);
    // A temporary block would be gone before its rows are read.
    usage_rows_decode_result decode(std::string&& block, std::string_view profile) = delete;

private:
    std::vector<usage_row_view> rows_;
    std::vector<std::string_view> entries_;
};

} // namespace clipal
