// Bounded decompression of small upstream bodies (429 error bodies sent gzip-encoded),
// so the failure classifier can read them. Never used on the streamed data path.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace clipal {

// Inflates a gzip or zlib stream (format detected from its header). Returns nullopt when
// the data is corrupt, truncated, or would inflate to more than max_output bytes, so a
// compression bomb costs at most max_output bytes of memory.
std::optional<std::string> gunzip(std::string_view data, std::size_t max_output);

} // namespace clipal
