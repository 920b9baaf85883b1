// A worker must not outlive its supervisor. The contract on every system: a worker exits
// when its channel reaches EOF (worker_link), and the supervisor's end of the channel
// closes when the supervisor dies, however it dies. Linux adds an extra on top:
// PR_SET_PDEATHSIG(SIGKILL), so a worker that is stuck and not reading its channel still
// dies with the supervisor. Other systems have no such signal (macOS, and the portable
// build on Linux); there the channel EOF is all there is.
#pragma once

#include <sys/types.h>

namespace clipal::platform {

// True where tie_to_parent() arranges a signal on the parent's death (Linux).
bool parent_death_signal_supported() noexcept;

// For the child between fork and exec (async-signal-safe). `parent` is the launcher's pid,
// read before the fork. Linux: asks for SIGKILL when the parent dies. Everywhere: false
// when the parent is already gone (the child should then exit without exec'ing).
bool tie_to_parent(pid_t parent) noexcept;

} // namespace clipal::platform
