#include "worker/profile_runtime.hpp"

#include <stdexcept>

namespace clipal::worker {

profile_runtime::profile_runtime(profile id, const profile_config& pc, const global_config& g, const clock& clk,
                                 std::uint64_t generation)
    : id_(id),
      global_(g),
      generation_(generation),
      providers_(pc.providers, clk, g.reactivate_after, g.ignore_count_tokens_failover && id == profile::claude_code) {
    for (const auto& p : pc.providers) {
        std::string error;
        auto t = upstream_target::parse(p.base_url, error);
        if (!t) throw std::invalid_argument("provider \"" + p.name + "\": base_url " + error);
        targets_.push_back(std::move(*t));
    }
}

std::vector<std::string> profile_runtime::keys() const {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < providers_.size(); ++i) out.push_back(providers_.provider(i).api_key);
    if (!global_.access_token.empty()) out.push_back(global_.access_token);
    return out;
}

} // namespace clipal::worker
