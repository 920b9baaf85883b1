// Linux: PR_SET_PDEATHSIG(SIGKILL), kept across execve.
#include "platform/parent_death.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace clipal::platform {

bool parent_death_signal_supported() noexcept { return true; }

bool tie_to_parent(pid_t parent) noexcept {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have died between fork and prctl; then no signal will come.
    return ::getppid() == parent;
}

} // namespace clipal::platform
