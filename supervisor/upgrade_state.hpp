// What a supervisor hands to the binary it re-executes into (`clipal update`): the public
// listener, the connections it was still routing, and the workers that keep serving their
// in-flight requests until the new ones are ready. Descriptors cross execve() as
// inherited numbers; this description of them travels in an anonymous file whose number
// is in CLIPAL_UPGRADE_STATE, so nothing about it shows up on the command line.
#pragma once

#include "shared/profile.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clipal::supervisor {

inline constexpr const char* upgrade_state_env = "CLIPAL_UPGRADE_STATE";

struct upgrade_state {
    struct connection {
        int fd = -1;
        std::string bytes;   // already read from the client, not yet answered
        std::string addr;    // client address, for the log
        bool routed = false; // the request line was complete (held for a worker), else still being read
    };
    struct worker {
        profile id = profile::claude_code;
        int pid = -1;
        int channel_fd = -1;
    };

    int listener_fd = -1;
    std::vector<connection> connections;
    std::vector<worker> workers;

    // Every descriptor named above, for clearing close-on-exec and for cleanup.
    std::vector<int> descriptors() const;
};

std::string to_json(const upgrade_state& s);
// Nothing when the text is not a state this version wrote; `error` says what is wrong.
std::optional<upgrade_state> upgrade_state_from_json(std::string_view text, std::string& error);

// Writes the state to an anonymous in-memory file and returns its descriptor (inheritable,
// offset 0), or -1 with `error`.
int write_upgrade_state(const upgrade_state& s, std::string& error);
// Reads the state named by CLIPAL_UPGRADE_STATE and removes the variable, so workers and a
// later re-execution never see it. Nothing when the variable is unset; a state that cannot
// be read is reported in `error` (its descriptors are then unknown and stay untouched).
std::optional<upgrade_state> take_upgrade_state(std::string& error);

} // namespace clipal::supervisor
