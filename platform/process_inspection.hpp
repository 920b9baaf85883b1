// Two questions about processes that Linux answers from /proc. Production code needs no
// other /proc reads (descriptor counts and the like are only read by tests).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>

namespace clipal::platform {

// The file this process was started from, absolute. POSIX has no call for it: Linux reads
// /proc/self/exe; the portable sibling asks macOS (_NSGetExecutablePath) and elsewhere
// reads the kernel's link where there is one (/proc/self/exe, /proc/curproc/file), which is
// what the portable build uses on Linux. nullopt when it cannot tell.
std::optional<std::filesystem::path> executable_path();

// Whether `pid` has exited. A zombie (exited, not yet reaped by its parent) counts as
// exited: `clipal stop` waits for this, and a test harness may reap late. Linux: kill(2),
// then the state in /proc/<pid>/stat. Portable: kill(2), then `ps -o stat= -p PID`
// (state Z), which Linux, macOS and the BSDs all understand. A short-lived command's
// polling loop, not a hot path.
bool process_exited(pid_t pid);

} // namespace clipal::platform
