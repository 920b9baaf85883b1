// URL handling of the data path (SPEC §3): which profile a request target belongs to,
// and the upstream target built from a provider's base path. Byte-exact: no decoding,
// no dot-segment or slash clean-up, so clients and upstreams see the same path.
#pragma once

#include "shared/profile.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace clipal {

struct route_match {
    profile id;
    // The target after the prefix (path + query), starting with '/': "/codex" -> "/",
    // "/codex?x=1" -> "/?x=1". Owned, because that form is not a substring of the target.
    std::string rest;
};

// Matches whole-segment prefixes only: "/codex", "/codex/..." and "/codex?..." match,
// "/codexx" does not. Targets not in origin form ("*", absolute URLs) never match.
std::optional<route_match> match_route(std::string_view target);

// base_path (the path of a provider's base_url: "", "/", "/v1", "/api/") + rest, with
// exactly one '/' at the join. The rest's path and query are kept byte for byte except
// that every `key` query parameter (the Gemini URL credential) is removed, leaving the
// other parameters and their order intact; a query left empty loses its '?'.
std::string join_target(std::string_view base_path, std::string_view rest);

// True when the path of `rest` (before any '?') has a dot-segment, "." or "..", which could
// climb out of a provider's base path; no API path has one. A dot may be percent-encoded
// (%2e, %2E), and a segment also ends at a backslash, %2F or %5C (some servers take those
// for '/'). Such targets are refused, never cleaned up: paths are forwarded as sent.
bool has_dot_segment(std::string_view rest);

// True for POST /v1/messages/count_tokens (any query), the Claude Code call that
// ignore_count_tokens_failover keeps on its own lane.
bool is_count_tokens(std::string_view method, std::string_view rest);

} // namespace clipal
