#include "worker/profile_runtime.hpp"

#include <stdexcept>

namespace clipal::worker {
namespace {

provider_policy policy_of(profile id, const global_config& g) {
    return {g.reactivate_after, g.failback, g.ignore_count_tokens_failover && id == profile::claude_code};
}

} // namespace

profile_runtime::profile_runtime(profile id, const profile_config& pc, const global_config& g, const clock& clk,
                                 std::uint64_t generation, std::shared_ptr<provider_set> keep)
    : id_(id), global_(g), generation_(generation), profile_(pc) {
    for (const auto& p : pc.providers) {
        std::string error;
        auto t = upstream_target::parse(p.base_url, error);
        if (!t) throw std::invalid_argument("provider \"" + p.name + "\": base_url " + error);
        targets_.push_back(std::move(*t));
    }
    // Requests in flight on the previous generation report into the same state.
    if (keep && keep->size() == pc.providers.size()) {
        providers_ = std::move(keep);
        providers_->set_policy(policy_of(id, g));
    } else {
        providers_ = std::make_shared<provider_set>(pc.providers, clk, policy_of(id, g));
    }
}

std::vector<std::string> profile_runtime::keys() const {
    std::vector<std::string> out;
    for (const auto& p : profile_.providers) out.insert(out.end(), p.api_keys.begin(), p.api_keys.end());
    if (!global_.access_token.empty()) out.push_back(global_.access_token);
    return out;
}

} // namespace clipal::worker
