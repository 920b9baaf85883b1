// The three client profiles clipal serves and the fixed facts about each one:
// config file, URL prefix, log tag, wire protocol.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace clipal {

enum class profile { claude_code, codex, gemini };

// The API dialect a profile speaks; it decides the key header and the error body shape.
enum class protocol { anthropic, openai, gemini };

struct profile_info {
    profile id;
    std::string_view name;   // "claude-code": used in commands, status, IPC
    std::string_view file;   // "claude-code.yaml"
    std::string_view prefix; // "/claudecode": the URL prefix routed to this profile
    std::string_view tag;    // "claudecode": the log tag, as in the seed's log lines
    protocol proto;
};

inline constexpr std::array<profile_info, 3> all_profiles{{
    {profile::claude_code, "claude-code", "claude-code.yaml", "/claudecode", "claudecode", protocol::anthropic},
    {profile::codex, "codex", "codex.yaml", "/codex", "codex", protocol::openai},
    {profile::gemini, "gemini", "gemini.yaml", "/gemini", "gemini", protocol::gemini},
}};

inline constexpr const profile_info& info(profile p) { return all_profiles[static_cast<std::size_t>(p)]; }

inline std::optional<profile> profile_from_name(std::string_view name) {
    for (const auto& p : all_profiles)
        if (p.name == name) return p.id;
    return std::nullopt;
}

} // namespace clipal
