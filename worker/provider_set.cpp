// Provider state transitions: sticky current index per lane, deactivation and cooldown
// with automatic expiry, and the message a client gets when every provider is out.
#include "worker/provider_set.hpp"

#include "shared/retry_hint.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <ctime>

namespace clipal::worker {
namespace {

// now + d without overflowing: a reactivate_after of centuries means "practically never".
clock::time_point later(clock::time_point now, duration d) {
    const auto room = clock::time_point::max() - now;
    if (d >= room) return clock::time_point::max();
    return now + std::chrono::duration_cast<clock::time_point::duration>(d);
}

bool is_rate_limit(failure_reason r) { return r == failure_reason::rate_limited || r == failure_reason::overloaded; }

// Local wall-clock time of day, as in log lines.
std::string time_of_day(clock::time_point t) {
    const std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    if (localtime_r(&tt, &tm) == nullptr) return "?";
    return fmt::format("{:02}:{:02}:{:02}", tm.tm_hour, tm.tm_min, tm.tm_sec);
}

} // namespace

provider_set::provider_set(std::vector<provider_config> enabled_sorted, const clock& clk, duration reactivate_after,
                           bool separate_count_tokens)
    : clock_(clk), reactivate_after_(reactivate_after), separate_count_tokens_(separate_count_tokens) {
    providers_.reserve(enabled_sorted.size());
    for (auto& c : enabled_sorted) {
        providers_.emplace_back();
        providers_.back().config = std::move(c);
    }
}

lane provider_set::lane_for(bool is_count_tokens) const {
    return is_count_tokens && separate_count_tokens_ ? lane::count_tokens : lane::main;
}

bool provider_set::available_at(const provider_state& p, clock::time_point now) {
    return p.state == availability::active || p.until <= now;
}

bool provider_set::available(std::size_t i) const {
    return i < providers_.size() && available_at(providers_[i], clock_.now());
}

std::vector<std::size_t> provider_set::order_from(std::size_t start) const {
    std::vector<std::size_t> order;
    order.reserve(providers_.size());
    for (std::size_t k = 0; k < providers_.size(); ++k) order.push_back((start + k) % providers_.size());
    return order;
}

std::vector<std::size_t> provider_set::candidates(lane l) const {
    if (providers_.empty()) return {};
    const auto now = clock_.now();
    auto order = order_from(current_[index_of(effective(l))]);
    std::erase_if(order, [&](std::size_t i) { return !available_at(providers_[i], now); });
    return order;
}

void provider_set::record_success(std::size_t i, lane l) {
    if (i >= providers_.size()) return;
    ++providers_[i].requests;
    current_[index_of(effective(l))] = i;
}

failure_effect provider_set::record_failure(std::size_t i, lane l, const verdict& v) {
    if (i >= providers_.size() || v.act == action::pass_through) return failure_effect::none;
    auto& p = providers_[i];
    ++p.requests;
    ++p.failures;
    const auto now = clock_.now();
    const failure_reason reason = v.reason.value_or(failure_reason::bad_response);

    if (effective(l) == lane::count_tokens) {
        // count_tokens failures must not disturb the main conversation's providers,
        // except a key or account that is plainly unusable.
        const bool hard = reason == failure_reason::auth || reason == failure_reason::billing;
        return v.act == action::deactivate && hard ? deactivate(p, reason, now) : failure_effect::none;
    }
    if (v.act == action::deactivate) return deactivate(p, reason, now);
    if (v.cooldown && *v.cooldown > duration::zero())
        return cool_down(p, reason, std::min(*v.cooldown, max_cooldown), now);
    return failure_effect::none;
}

failure_effect provider_set::deactivate(provider_state& p, failure_reason r, clock::time_point now) {
    if (reactivate_after_ <= duration::zero()) return failure_effect::none;
    const auto until = later(now, reactivate_after_);
    p.until = available_at(p, now) ? until : std::max(p.until, until);
    p.state = availability::deactivated;
    p.reason = r;
    return failure_effect::deactivated;
}

failure_effect provider_set::cool_down(provider_state& p, failure_reason r, duration d, clock::time_point now) {
    const auto until = later(now, d);
    // A deactivation or a longer cooldown already in force wins.
    if (!available_at(p, now) && (p.state == availability::deactivated || p.until >= until))
        return failure_effect::none;
    p.state = availability::cooling;
    p.until = until;
    p.reason = r;
    return failure_effect::cooling;
}

std::optional<clock::time_point> provider_set::next_change() const {
    std::optional<clock::time_point> soonest;
    for (const auto& p : providers_)
        if (p.state != availability::active && (!soonest || p.until < *soonest)) soonest = p.until;
    return soonest;
}

std::vector<std::size_t> provider_set::expire_due() {
    const auto now = clock_.now();
    std::vector<std::size_t> back;
    for (std::size_t i = 0; i < providers_.size(); ++i) {
        auto& p = providers_[i];
        if (p.state == availability::active || p.until > now) continue;
        p.state = availability::active;
        p.reason.reset();
        back.push_back(i);
    }
    return back;
}

provider_set::exhausted_answer provider_set::when_exhausted(const std::vector<attempt_record>& tried) const {
    exhausted_answer out;
    if (providers_.empty()) {
        out.message = "no providers are enabled for this profile";
        return out;
    }
    const auto now = clock_.now();
    std::vector<std::string> parts;
    bool all_rate_limited = true;
    std::vector<bool> was_tried(providers_.size(), false);
    for (const auto& a : tried) {
        if (a.provider >= providers_.size()) continue;
        was_tried[a.provider] = true;
        all_rate_limited = all_rate_limited && is_rate_limit(a.reason);
        std::string part = providers_[a.provider].config.name + ": ";
        if (a.status != 0) part += fmt::format("{} ", a.status);
        part += to_string(a.reason);
        if (!a.detail.empty()) part += " (" + a.detail + ")";
        parts.push_back(std::move(part));
    }

    std::optional<clock::time_point> soonest;
    for (std::size_t i = 0; i < providers_.size(); ++i) {
        const auto& p = providers_[i];
        if (available_at(p, now)) continue;
        if (!soonest || p.until < *soonest) soonest = p.until;
        const bool cooling_on_rate_limit = p.state == availability::cooling && p.reason && is_rate_limit(*p.reason);
        all_rate_limited = all_rate_limited && cooling_on_rate_limit;
        if (was_tried[i]) continue;
        parts.push_back(fmt::format("{}: {} ({}) until {}", p.config.name,
                                    p.state == availability::deactivated ? "deactivated" : "cooling",
                                    p.reason ? to_string(*p.reason) : "unknown", time_of_day(p.until)));
    }

    const std::string details = fmt::format("{}", fmt::join(parts, "; "));
    if (!soonest) {
        out.message = "all providers failed: " + details;
        return out;
    }
    using std::chrono::seconds;
    const auto wait = std::chrono::ceil<seconds>(*soonest - now);
    out.retry_after = std::max(wait, seconds{1});
    out.status = all_rate_limited ? 429 : 503;
    out.message = fmt::format("{} (next one back in {}s): {}",
                              all_rate_limited ? "all providers are rate limited or overloaded"
                                               : "all providers failed or are unavailable",
                              out.retry_after->count(), details);
    return out;
}

std::vector<provider_set::provider_status> provider_set::snapshot() const {
    const auto now = clock_.now();
    std::vector<provider_status> out;
    out.reserve(providers_.size());
    for (std::size_t i = 0; i < providers_.size(); ++i) {
        const auto& p = providers_[i];
        provider_status s;
        s.name = p.config.name;
        s.current = i == current_[index_of(lane::main)];
        s.requests = p.requests;
        s.failures = p.failures;
        if (available_at(p, now)) {
            s.state = "active";
        } else {
            s.state = p.state == availability::deactivated ? "deactivated" : "cooling";
            s.until = p.until;
            s.reason = p.reason;
        }
        out.push_back(std::move(s));
    }
    return out;
}

} // namespace clipal::worker
