// POSIX: no parent-death signal. The worker's channel EOF is the contract (parent_death.hpp).
#include "platform/parent_death.hpp"

#include <unistd.h>

namespace clipal::platform {

bool parent_death_signal_supported() noexcept { return false; }

bool tie_to_parent(pid_t parent) noexcept { return ::getppid() == parent; }

} // namespace clipal::platform
