#include "shared/request_framing.hpp"

#include "shared/text.hpp"

#include <algorithm>
#include <limits>

namespace clipal {
namespace {

// Calls f(element) for each non-empty element of a comma-separated list (RFC 9110 §5.6.1:
// empty elements are allowed and ignored), white space trimmed.
template <class F>
void for_each_element(std::string_view list, F f) {
    while (true) {
        const auto comma = list.find(',');
        if (const auto e = trim_ows(list.substr(0, comma)); !e.empty()) f(e);
        if (comma == std::string_view::npos) return;
        list.remove_prefix(comma + 1);
    }
}

bool parse_length(std::string_view s, std::uint64_t& out) {
    if (s.empty()) return false;
    std::uint64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return false;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
        v = v * 10 + d;
    }
    out = v;
    return true;
}

request_framing fail(framing_error e) {
    request_framing r;
    r.error = e;
    return r;
}

} // namespace

request_framing frame_request(unsigned version, std::span<const header_field> fields) {
    request_framing out;

    std::size_t hosts = 0;
    bool has_transfer = false;
    std::size_t codings = 0;
    std::size_t chunked_count = 0;
    bool last_is_chunked = false;
    std::size_t lengths = 0;
    bool length_ok = true;
    for (const auto& f : fields) {
        if (ascii_iequals(f.name, "host")) {
            ++hosts;
        } else if (ascii_iequals(f.name, "transfer-encoding")) {
            has_transfer = true;
            for_each_element(f.value, [&](std::string_view coding) {
                ++codings;
                last_is_chunked = ascii_iequals(coding, "chunked");
                if (last_is_chunked) ++chunked_count;
            });
        } else if (ascii_iequals(f.name, "content-length")) {
            // Each value of a list ("5, 5") counts: Beast merges equal ones, another parser may not.
            lengths += 1 + static_cast<std::size_t>(std::count(f.value.begin(), f.value.end(), ','));
            length_ok = length_ok && parse_length(trim_ows(f.value), out.length);
        }
    }

    if (has_transfer) {
        if (version < 11) return fail(framing_error::transfer_in_http10);
        if (lengths > 0) return fail(framing_error::length_with_transfer);
        if (codings == 0 || !last_is_chunked) return fail(framing_error::not_chunked_last);
        if (chunked_count > 1) return fail(framing_error::chunked_repeated);
        if (codings > 1) return fail(framing_error::unsupported_coding);
        out.body = request_framing::body_kind::chunked;
    } else if (lengths > 1) {
        return fail(framing_error::length_repeated);
    } else if (lengths == 1) {
        if (!length_ok) return fail(framing_error::length_invalid);
        out.body = request_framing::body_kind::length;
    }
    if (hosts > 1) return fail(framing_error::host_repeated);
    if (hosts == 0 && version >= 11) return fail(framing_error::host_missing);
    return out;
}

int status_of(framing_error e) { return e == framing_error::unsupported_coding ? 501 : 400; }

std::string_view describe(framing_error e) {
    switch (e) {
    case framing_error::none: return "";
    case framing_error::host_missing: return "an HTTP/1.1 request needs a Host header";
    case framing_error::host_repeated: return "the request has more than one Host header";
    case framing_error::transfer_in_http10: return "Transfer-Encoding is not allowed in an HTTP/1.0 request";
    case framing_error::not_chunked_last:
        return "Transfer-Encoding must end in chunked; the end of the request body cannot be determined";
    case framing_error::chunked_repeated: return "Transfer-Encoding names chunked more than once";
    case framing_error::unsupported_coding: return "clipal supports no transfer coding but chunked";
    case framing_error::length_with_transfer: return "the request has both Content-Length and Transfer-Encoding";
    case framing_error::length_repeated: return "the request has more than one Content-Length value";
    case framing_error::length_invalid: return "the request's Content-Length is not a number";
    }
    return "";
}

} // namespace clipal
