// Where this build tree put the programs that integration tests start.
#pragma once

#include <filesystem>

namespace clipal::test {

std::filesystem::path clipal_binary();        // build/clipal
std::filesystem::path fake_upstream_binary(); // build/fake-upstream

} // namespace clipal::test
