// A reload's effect on provider state (SPEC §4 "Reload and state"): a config.yaml edit keeps
// it, with the new settings applied to what comes next; a profile edit starts afresh.
#include "worker/profile_runtime.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using clipal::action;
using clipal::failure_reason;
using clipal::verdict;
using clipal::worker::lane;
using clipal::worker::profile_runtime;

namespace {

clipal::profile_config two_providers() {
    clipal::profile_config pc;
    pc.id = clipal::profile::claude_code;
    for (const char* name : {"a", "b"}) {
        clipal::provider_config p;
        p.name = name;
        p.base_url = "https://example.test/v1";
        p.api_keys = {std::string("test-key-") + name};
        pc.providers.push_back(p);
    }
    return pc;
}

const verdict auth{action::deactivate, failure_reason::auth, std::nullopt};

} // namespace

TEST(ProfileRuntime, AGlobalReloadKeepsProviderStateAndAppliesTheNewSettingsNext) {
    clipal::manual_clock clock;
    clipal::global_config g;
    const auto first = std::make_shared<profile_runtime>(clipal::profile::claude_code, two_providers(), g, clock, 1);
    first->providers().record_failure(0, lane::main, auth);
    first->providers().record_success(1, lane::main);

    g.level = clipal::log_level::warn;
    g.reactivate_after = 2h;
    g.failback = false;
    const auto second = std::make_shared<profile_runtime>(clipal::profile::claude_code, two_providers(), g, clock, 2,
                                                          first->shared_providers());
    EXPECT_EQ(&second->providers(), &first->providers()); // requests in flight report into it too
    const auto s = second->providers().snapshot();
    EXPECT_EQ(s[0].state, "deactivated");
    EXPECT_EQ(s[0].until, clock.now() + 1h);
    EXPECT_TRUE(s[1].current);
    EXPECT_EQ(s[0].requests, 1u);
    EXPECT_FALSE(second->providers().policy().failback);
    second->providers().record_failure(1, lane::main, auth);
    EXPECT_EQ(second->providers().snapshot()[1].until, clock.now() + 2h);
}

TEST(ProfileRuntime, WithoutStateToKeepTheProvidersStartAfresh) {
    clipal::manual_clock clock;
    const clipal::global_config g;
    const auto first = std::make_shared<profile_runtime>(clipal::profile::claude_code, two_providers(), g, clock, 1);
    first->providers().record_failure(0, lane::main, auth);
    const auto second = std::make_shared<profile_runtime>(clipal::profile::claude_code, two_providers(), g, clock, 2);
    EXPECT_EQ(second->providers().snapshot()[0].state, "active");
    // State of another provider list is never taken over.
    auto one = two_providers();
    one.providers.pop_back();
    const auto third =
        std::make_shared<profile_runtime>(clipal::profile::claude_code, one, g, clock, 3, first->shared_providers());
    EXPECT_NE(&third->providers(), &first->providers());
    EXPECT_EQ(third->providers().snapshot()[0].state, "active");
}

TEST(ProfileRuntime, EveryKeyOfEveryProviderIsRedacted) {
    clipal::manual_clock clock;
    auto pc = two_providers();
    pc.providers[0].api_keys.push_back("test-key-second");
    const profile_runtime rt(clipal::profile::claude_code, pc, clipal::global_config{}, clock, 1);
    EXPECT_EQ(rt.keys(), (std::vector<std::string>{"test-key-a", "test-key-second", "test-key-b"}));
}
