// One generation of a profile's configuration as the worker runs it: the global
// settings, the provider list with parsed upstream targets, and the provider state.
// A reload builds a new generation; requests in flight keep the one they started with.
#pragma once

#include "shared/clock.hpp"
#include "shared/config.hpp"
#include "worker/provider_set.hpp"
#include "worker/upstream_target.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace clipal::worker {

class profile_runtime {
public:
    // Throws std::invalid_argument naming the provider when a base_url cannot be used
    // (the config loader has already validated it; this is the last line of defence).
    // `keep`: the provider state of the previous generation, carried on when only config.yaml
    // changed (the same providers); null builds fresh state.
    profile_runtime(profile id, const profile_config& pc, const global_config& g, const clock& clk,
                    std::uint64_t generation, std::shared_ptr<provider_set> keep = nullptr);

    profile id() const { return id_; }
    const profile_info& info() const { return clipal::info(id_); }
    const global_config& global() const { return global_; }
    std::uint64_t generation() const { return generation_; }

    provider_set& providers() { return *providers_; }
    const provider_set& providers() const { return *providers_; }
    // The state itself, for the next generation to keep.
    const std::shared_ptr<provider_set>& shared_providers() const { return providers_; }
    const profile_config& profile_settings() const { return profile_; }
    const upstream_target& target(std::size_t i) const { return targets_.at(i); }

    // Provider i's index in the worker's metrics (worker_metrics::provider_id), set once by
    // the worker when it applies this generation.
    void set_metric_ids(std::vector<std::size_t> ids) { metric_ids_ = std::move(ids); }
    std::size_t metric_id(std::size_t i) const {
        return i < metric_ids_.size() ? metric_ids_[i] : static_cast<std::size_t>(-1);
    }

    // Every configured key and the access_token, for the log redactor.
    std::vector<std::string> keys() const;

private:
    profile id_;
    global_config global_;
    std::uint64_t generation_;
    profile_config profile_;
    std::shared_ptr<provider_set> providers_;
    std::vector<upstream_target> targets_;
    std::vector<std::size_t> metric_ids_;
};

} // namespace clipal::worker
