// zlib inflate with windowBits 15+32 (automatic gzip/zlib header detection), writing in
// chunks so the output limit is checked before memory is committed.
#include "shared/gzip.hpp"

#include <zlib.h>

#include <array>
#include <climits>

namespace clipal {

std::optional<std::string> gunzip(std::string_view data, std::size_t max_output) {
    if (data.empty() || data.size() > UINT_MAX) return std::nullopt;
    z_stream zs{};
    if (inflateInit2(&zs, 15 + 32) != Z_OK) return std::nullopt;
    // zlib's API is not const-correct; it never writes through next_in.
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());

    std::string out;
    std::array<char, 16 * 1024> chunk;
    int rc = Z_OK;
    while (rc == Z_OK) {
        zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
        zs.avail_out = static_cast<uInt>(chunk.size());
        rc = inflate(&zs, Z_NO_FLUSH);
        // Z_BUF_ERROR here means input ran out before the end of the stream: truncated.
        if (rc != Z_OK && rc != Z_STREAM_END) break;
        const std::size_t produced = chunk.size() - zs.avail_out;
        if (out.size() + produced > max_output) {
            rc = Z_BUF_ERROR;
            break;
        }
        out.append(chunk.data(), produced);
    }
    inflateEnd(&zs);
    if (rc != Z_STREAM_END) return std::nullopt;
    return out;
}

} // namespace clipal
