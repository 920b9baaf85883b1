// Paths come from CMake ($<TARGET_FILE:...>) as compile definitions.
#include "support/binaries.hpp"

namespace clipal::test {

std::filesystem::path clipal_binary() { return CLIPAL_BINARY; }
std::filesystem::path fake_upstream_binary() { return FAKE_UPSTREAM_BINARY; }

} // namespace clipal::test
