// Provider state transitions: sticky current index per lane, per-key deactivation and
// cooldown, the provider's breaker with fail-back probing, automatic expiry, and the message
// a client gets when every provider is out.
#include "worker/provider_set.hpp"

#include "shared/redact.hpp"
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

std::string_view state_name(bool deactivated) { return deactivated ? "deactivated" : "cooling"; }

} // namespace

duration breaker_backoff(unsigned consecutive_failures) {
    duration d = breaker_first_backoff;
    for (unsigned i = 1; i < consecutive_failures && d < breaker_max_backoff; ++i) d *= 2;
    return std::min(d, breaker_max_backoff);
}

provider_set::provider_set(std::vector<provider_config> enabled_sorted, const clock& clk, provider_policy policy)
    : clock_(clk), policy_(policy) {
    providers_.reserve(enabled_sorted.size());
    for (auto& c : enabled_sorted) {
        providers_.emplace_back();
        auto& p = providers_.back();
        p.config = std::move(c);
        // The loader guarantees a key; a set built without one still has a slot to report on.
        if (p.config.api_keys.empty()) p.config.api_keys.emplace_back();
        for (const auto& k : p.config.api_keys)
            p.keys.push_back({clipal::key_fingerprint(k), availability::active, {}, {}});
    }
}

lane provider_set::lane_for(bool is_count_tokens) const {
    return is_count_tokens && policy_.separate_count_tokens ? lane::count_tokens : lane::main;
}

bool provider_set::key_available_at(const key_state& k, clock::time_point now) {
    return k.state == availability::active || k.until <= now;
}

bool provider_set::available_at(const provider_state& p, clock::time_point now) {
    if (p.state != availability::active && p.until > now) return false;
    return std::any_of(p.keys.begin(), p.keys.end(), [&](const key_state& k) { return key_available_at(k, now); });
}

clock::time_point provider_set::back_at(const provider_state& p, clock::time_point now) {
    auto keys_back = clock::time_point::max();
    for (const auto& k : p.keys) keys_back = std::min(keys_back, key_available_at(k, now) ? now : k.until);
    const auto provider_back = p.state != availability::active && p.until > now ? p.until : now;
    return std::max(keys_back, provider_back);
}

bool provider_set::rate_limited_only(const provider_state& p, clock::time_point now) {
    if (p.state != availability::active && p.until > now) return p.reason && is_rate_limit(*p.reason);
    return std::all_of(p.keys.begin(), p.keys.end(), [&](const key_state& k) {
        return k.state == availability::cooling && k.reason && is_rate_limit(*k.reason);
    });
}

bool provider_set::available(std::size_t i) const {
    return i < providers_.size() && available_at(providers_[i], clock_.now());
}

bool provider_set::only_breaker_open(std::size_t i) const {
    if (i >= providers_.size()) return false;
    const auto& p = providers_[i];
    const auto now = clock_.now();
    return p.state == availability::open &&
           std::any_of(p.keys.begin(), p.keys.end(), [&](const key_state& k) { return key_available_at(k, now); });
}

std::size_t provider_set::key_for(std::size_t i) const {
    const auto& p = providers_.at(i);
    const auto now = clock_.now();
    for (std::size_t n = 0; n < p.keys.size(); ++n) {
        const auto k = (p.cursor + n) % p.keys.size();
        if (key_available_at(p.keys[k], now)) return k;
    }
    return p.cursor % p.keys.size();
}

provider_order provider_set::order_from(std::size_t start) const {
    provider_order order;
    order.reserve(providers_.size());
    for (std::size_t k = 0; k < providers_.size(); ++k) order.push_back((start + k) % providers_.size());
    return order;
}

provider_order provider_set::candidates(lane l) const {
    if (providers_.empty()) return {};
    const auto now = clock_.now();
    const auto current = current_[index_of(effective(l))];
    auto order = order_from(current);
    order.erase(std::remove_if(order.begin(), order.end(),
                               [&](std::size_t i) { return !available_at(providers_[i], now); }),
                order.end());
    if (!policy_.failback) return order;
    if (order.empty()) {
        // An open breaker keeps requests away only while there is somewhere else to go: with
        // every provider open (one provider that just failed, say) they are tried anyway.
        auto open = order_from(current);
        open.erase(std::remove_if(open.begin(), open.end(), [&](std::size_t i) { return !only_breaker_open(i); }),
                   open.end());
        return open;
    }
    // Fail-back: a provider above the current one is only there again because its breaker,
    // cooldown or deactivation ran out. One request at a time probes it; the others keep to
    // the current provider (and reach it only by wrapping around).
    for (std::size_t i = 0; i < current; ++i) {
        if (providers_[i].probing || !available_at(providers_[i], now)) continue;
        order.erase(std::remove(order.begin(), order.end(), i), order.end());
        order.insert(order.begin(), i);
        break;
    }
    return order;
}

provider_set::route provider_set::route_for(lane l) {
    route r{candidates(l), std::nullopt};
    const auto current = current_[index_of(effective(l))];
    if (policy_.failback && !r.order.empty() && r.order.front() < current) {
        r.probe = r.order.front();
        providers_[*r.probe].probing = true;
    }
    return r;
}

void provider_set::end_probe(std::size_t i) {
    if (i < providers_.size()) providers_[i].probing = false;
}

void provider_set::record_success(std::size_t i, lane l) {
    if (i >= providers_.size()) return;
    auto& p = providers_[i];
    ++p.requests;
    p.consecutive = 0;
    p.probing = false;
    current_[index_of(effective(l))] = i;
}

void provider_set::record_answer(std::size_t i) {
    if (i >= providers_.size()) return;
    ++providers_[i].requests;
    providers_[i].probing = false;
}

failure_effect provider_set::record_failure(std::size_t i, lane l, const verdict& v) {
    if (i >= providers_.size()) return failure_effect::none;
    return record_failure(i, key_for(i), l, v);
}

failure_effect provider_set::record_failure(std::size_t i, std::size_t k, lane l, const verdict& v) {
    if (i >= providers_.size() || v.act == action::pass_through) return failure_effect::none;
    auto& p = providers_[i];
    ++p.requests;
    p.probing = false;
    const failure_reason reason = v.reason.value_or(failure_reason::bad_response);
    if (reason == failure_reason::context_length) return failure_effect::none;
    ++p.failures;
    auto& key = p.keys.at(k < p.keys.size() ? k : 0);
    const auto now = clock_.now();
    const bool hard = reason == failure_reason::auth || reason == failure_reason::billing;

    if (effective(l) == lane::count_tokens) {
        // count_tokens failures must not disturb the main conversation's providers,
        // except a key or account that is plainly unusable.
        return v.act == action::deactivate && hard ? deactivate(key, reason, now) : failure_effect::none;
    }
    const auto hint = v.cooldown && *v.cooldown > duration::zero() ? std::optional(std::min(*v.cooldown, max_cooldown))
                                                                   : std::nullopt;
    if (v.act == action::deactivate || reason == failure_reason::rate_limited) {
        // A key's own trouble: the next request starts from the next key.
        p.cursor = (k + 1) % p.keys.size();
        if (v.act == action::deactivate) return deactivate(key, reason, now);
        if (hint) return cool_key(key, reason, *hint, now);
        // An unhinted rate limit: with fail-back the key rests for the breaker's backoff, so
        // a persistent 429 costs one attempt per backoff, not one per request.
        if (!policy_.failback) return failure_effect::none;
        return cool_key(key, reason, breaker_backoff(++p.consecutive), now);
    }
    // The server's trouble (errors, overload, resets, timeouts): the whole provider.
    if (!policy_.failback)
        return hint ? hold_provider(p, availability::cooling, reason, *hint, now) : failure_effect::none;
    const auto backoff = breaker_backoff(++p.consecutive);
    if (hint && *hint > backoff) return hold_provider(p, availability::cooling, reason, *hint, now);
    return hold_provider(p, availability::open, reason, backoff, now);
}

failure_effect provider_set::deactivate(key_state& k, failure_reason r, clock::time_point now) {
    if (policy_.reactivate_after <= duration::zero()) return failure_effect::none;
    const auto until = later(now, policy_.reactivate_after);
    k.until = key_available_at(k, now) ? until : std::max(k.until, until);
    k.state = availability::deactivated;
    k.reason = r;
    return failure_effect::deactivated;
}

failure_effect provider_set::cool_key(key_state& k, failure_reason r, duration d, clock::time_point now) {
    const auto until = later(now, d);
    // A deactivation or a longer cooldown already in force wins.
    if (!key_available_at(k, now) && (k.state == availability::deactivated || k.until >= until))
        return failure_effect::none;
    k.state = availability::cooling;
    k.until = until;
    k.reason = r;
    return failure_effect::cooling;
}

failure_effect provider_set::hold_provider(provider_state& p, availability a, failure_reason r, duration d,
                                           clock::time_point now) {
    const auto until = later(now, d);
    if (p.state != availability::active && p.until >= until) return failure_effect::none;
    p.state = a;
    p.until = until;
    p.reason = r;
    return a == availability::open ? failure_effect::opened : failure_effect::cooling;
}

std::optional<clock::time_point> provider_set::next_change() const {
    std::optional<clock::time_point> soonest;
    auto consider = [&](availability a, clock::time_point t) {
        if (a != availability::active && (!soonest || t < *soonest)) soonest = t;
    };
    for (const auto& p : providers_) {
        consider(p.state, p.until);
        for (const auto& k : p.keys) consider(k.state, k.until);
    }
    return soonest;
}

std::vector<std::size_t> provider_set::expire_due() {
    const auto now = clock_.now();
    std::vector<std::size_t> back;
    for (std::size_t i = 0; i < providers_.size(); ++i) {
        auto& p = providers_[i];
        const bool was_available = std::any_of(p.keys.begin(), p.keys.end(),
                                               [](const key_state& k) { return k.state == availability::active; }) &&
                                   p.state == availability::active;
        bool changed = false;
        if (p.state != availability::active && p.until <= now) {
            p.state = availability::active;
            p.reason.reset();
            changed = true;
        }
        for (auto& k : p.keys) {
            if (k.state == availability::active || k.until > now) continue;
            k.state = availability::active;
            k.reason.reset();
            changed = true;
        }
        if (changed && !was_available) back.push_back(i);
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
        const auto back = back_at(p, now);
        if (!soonest || back < *soonest) soonest = back;
        all_rate_limited = all_rate_limited && rate_limited_only(p, now);
        if (was_tried[i]) continue;
        std::string why;
        if (p.state != availability::active && p.until > now) {
            why = p.state == availability::open ? "breaker open" : "cooling";
            if (p.reason) why += fmt::format(" ({})", to_string(*p.reason));
        } else {
            const auto& k = p.keys.front();
            why = fmt::format("{} ({})",
                              p.keys.size() == 1 ? state_name(k.state == availability::deactivated)
                                                 : std::string_view("every key out"),
                              k.reason ? to_string(*k.reason) : "unknown");
        }
        parts.push_back(fmt::format("{}: {} until {}", p.config.name, why, time_of_day(back)));
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

std::string_view provider_set::breaker_of(std::size_t i, clock::time_point now) const {
    const auto& p = providers_[i];
    if (!policy_.failback) return "closed";
    if (p.state != availability::active && p.until > now) return "open";
    if (p.consecutive > 0 && i < current_[index_of(lane::main)]) return "half-open";
    return "closed";
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
        s.model = p.config.model;
        s.consecutive_failures = p.consecutive;
        s.breaker = breaker_of(i, now);
        const auto in_use = key_for(i);
        for (std::size_t k = 0; k < p.keys.size(); ++k) {
            const auto& ks = p.keys[k];
            key_status st{ks.fingerprint, "active", std::nullopt, std::nullopt, k == in_use};
            if (!key_available_at(ks, now)) {
                st.state = state_name(ks.state == availability::deactivated);
                st.until = ks.until;
                st.reason = ks.reason;
            }
            s.keys.push_back(std::move(st));
        }
        if (available_at(p, now)) {
            s.state = "active";
        } else if (p.state != availability::active && p.until > now) {
            s.state = p.state == availability::open ? "open" : "cooling";
            s.until = p.until;
            s.reason = p.reason;
        } else {
            // Every key is out: the provider shows the state of the one back soonest.
            const auto& k = *std::min_element(p.keys.begin(), p.keys.end(),
                                              [](const key_state& a, const key_state& b) { return a.until < b.until; });
            s.state = state_name(k.state == availability::deactivated);
            s.until = k.until;
            s.reason = k.reason;
        }
        if (s.breaker == "open") s.next_try = p.until;
        out.push_back(std::move(s));
    }
    return out;
}

} // namespace clipal::worker
