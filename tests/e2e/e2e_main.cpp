// Entry point of e2e_tests: enters a loopback-only network namespace before GoogleTest
// starts any thread or process, so everything the tests launch shares that namespace.
#include "e2e/e2e_environment.hpp"
#include "e2e/loopback_namespace.hpp"

#include <gtest/gtest.h>

int main(int argc, char** argv) {
    clipal::e2e::namespace_error() = clipal::e2e::enter_loopback_namespace();
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
