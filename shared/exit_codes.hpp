// Process exit codes (sysexits-style). The supervisor reads a worker's code to decide
// whether to respawn: 78 waits for a config change, 70 and others restart with backoff.
#pragma once

namespace clipal {

inline constexpr int exit_ok = 0;
inline constexpr int exit_usage = 64;
inline constexpr int exit_software = 70; // broken invariant
inline constexpr int exit_transient = 75;
inline constexpr int exit_config = 78;

} // namespace clipal
