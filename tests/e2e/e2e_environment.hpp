// What main() learned before the tests ran: why the loopback-only namespace could not be
// entered (empty when it was), so each test can skip with that reason.
#pragma once

#include <string>

namespace clipal::e2e {

// Written once by main() before any test runs; read by the tests.
inline std::string& namespace_error() {
    static std::string error;
    return error;
}

} // namespace clipal::e2e
