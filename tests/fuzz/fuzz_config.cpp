// Fuzz target for the YAML config loader: the same text read as config.yaml and as a
// profile file, without touching the file system. Besides "no crash, no sanitizer report"
// it checks that every problem is reported with a message, and that what the loader
// accepts survives the trip to a worker (the config JSON of a config_push).
#include "ipc/config_codec.hpp"
#include "shared/base_url.hpp"
#include "shared/config_loader.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

void check(bool ok, const char* what) {
    if (ok) return;
    std::fprintf(stderr, "fuzz_config invariant broken: %s\n", what);
    std::abort();
}

void check_issues(const std::vector<clipal::config_issue>& issues) {
    for (const auto& i : issues) {
        check(!i.message.empty(), "an issue has a message");
        check(i.line >= 0, "an issue's line is not negative");
        check(!i.to_string().empty(), "an issue prints");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace clipal;
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    std::vector<config_issue> global_errors;
    const auto global = parse_global_yaml(text, "config.yaml", global_errors);
    check_issues(global_errors);
    if (global_errors.empty())
        check(global.request_body_budget_bytes >= global.max_request_body_bytes, "the body budget holds one body");

    // Gemini places a provider's model override in the path (models/NAME:), so there it must
    // be one harmless segment; other profiles only put it in the JSON body.
    std::vector<config_issue> gemini_errors;
    const auto gemini = parse_profile_yaml(profile::gemini, text, "gemini.yaml", gemini_errors);
    check_issues(gemini_errors);
    if (gemini_errors.empty())
        for (const auto* list : {&gemini.providers, &gemini.disabled})
            for (const auto& p : *list)
                check(p.model.empty() || (p.model.find_first_of("/?#:% \\") == std::string::npos &&
                                          p.model.find_first_not_of('.') != std::string::npos),
                      "an accepted Gemini model is one path segment");

    std::vector<config_issue> profile_errors;
    const auto profile = parse_profile_yaml(profile::codex, text, "codex.yaml", profile_errors);
    check_issues(profile_errors);
    if (!profile_errors.empty()) return 0;
    for (std::size_t i = 1; i < profile.providers.size(); ++i)
        check(profile.providers[i - 1].priority <= profile.providers[i].priority, "providers sorted by priority");
    for (const auto* list : {&profile.providers, &profile.disabled})
        for (const auto& p : *list) {
            check(!p.name.empty() && !p.api_keys.empty(), "an accepted provider has a name and a key");
            for (std::size_t k = 0; k < p.api_keys.size(); ++k) {
                check(!p.api_keys[k].empty(), "an accepted key is not empty");
                for (std::size_t j = 0; j < k; ++j) check(p.api_keys[j] != p.api_keys[k], "accepted keys differ");
            }
            // The worker's upstream_target parses with the same validator (issue 13, hole 8).
            std::string error;
            check(parse_base_url(p.base_url, error).has_value(), "an accepted base_url is one a worker can use");
        }

    // What clipal check accepts is what a worker is given: it must decode there too.
    ipc::worker_config wc;
    wc.profile = profile;
    wc.keep_state = size % 2 == 1;
    if (global_errors.empty()) wc.global = global;
    const auto back = ipc::parse_worker_config(ipc::to_json(wc));
    check(back.value && *back.value == wc, "an accepted config survives the config JSON");
    return 0;
}
