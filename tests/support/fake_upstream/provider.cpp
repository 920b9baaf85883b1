// Script selection and the responses prepared once per provider.
#include "support/fake_upstream/provider.hpp"

namespace clipal::test::fake_upstream {

provider::provider(std::string name, script main, std::vector<std::pair<std::string, script>> path_scripts)
    : name_(std::move(name)), canned_(std::make_shared<const canned_responses>(name_)) {
    for (auto& [match, s] : path_scripts) scripts_.push_back({std::move(match), std::move(s)});
    scripts_.push_back({"", std::move(main)});

    // Steps are addressed by pointer from here on; scripts_ is not resized again.
    for (const auto& cs : scripts_)
        for (const auto& st : cs.steps.steps)
            if (st.kind == step_kind::status)
                status_[&st] = {status_response(st, family::anthropic), status_response(st, family::openai),
                                status_response(st, family::gemini)};

    header_fields filler;
    const std::string value(8180, 'x');
    for (int i = 0; i < 128; ++i) filler.emplace_back("X-Filler", value);
    filler.emplace_back("Content-Type", "application/json");
    huge_headers_ = full_response(200, filler, R"({"ok":true})");
}

const step& provider::next_step(std::string_view target, std::chrono::steady_clock::time_point now) {
    if (!first_request_) first_request_ = now;
    for (auto& cs : scripts_)
        if (cs.match.empty() || target.find(cs.match) != std::string_view::npos)
            return cs.steps.next(cs.position, now, *first_request_);
    auto& main = scripts_.back();
    return main.steps.next(main.position, now, *first_request_);
}

std::shared_ptr<const canned_responses> provider::canned_for(std::string_view model) {
    if (model.empty()) return canned_;
    if (const auto it = by_model_.find(model); it != by_model_.end()) return it->second;
    constexpr std::size_t cache_limit = 256; // a client naming a new model each time must not grow us
    if (by_model_.size() >= cache_limit) by_model_.clear();
    auto c = std::make_shared<const canned_responses>(name_, model);
    by_model_.emplace(std::string(model), c);
    return c;
}

const std::string& provider::status_bytes(const step& st, family f) const {
    return status_.at(&st)[static_cast<std::size_t>(f)];
}

const std::string& provider::pattern_sha(std::size_t n) {
    auto it = pattern_sha_.find(n);
    if (it == pattern_sha_.end()) it = pattern_sha_.emplace(n, pattern_sha256_hex(n)).first;
    return it->second;
}

} // namespace clipal::test::fake_upstream
