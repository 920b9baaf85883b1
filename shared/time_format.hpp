// Times as clipal shows them in machine-readable output (status JSON).
#pragma once

#include "shared/clock.hpp"

#include <string>

namespace clipal {

// "2026-11-26T12:00:00Z" (ISO-8601, UTC, whole seconds).
std::string iso_utc(clock::time_point t);

} // namespace clipal
