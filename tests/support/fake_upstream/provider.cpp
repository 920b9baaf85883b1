// Script selection and the responses prepared once per provider.
#include "support/fake_upstream/provider.hpp"

namespace clipal::test::fake_upstream {

provider::provider(std::string name, script main, std::vector<std::pair<std::string, script>> path_scripts)
    : name_(std::move(name)), canned_(name_) {
    for (auto& [match, s] : path_scripts) scripts_.push_back({std::move(match), std::move(s), 0});
    scripts_.push_back({"", std::move(main), 0});

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

const step& provider::next_step(std::string_view target) {
    for (auto& cs : scripts_)
        if (cs.match.empty() || target.find(cs.match) != std::string_view::npos) return cs.steps.at(cs.served++);
    return scripts_.back().steps.at(scripts_.back().served++);
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
