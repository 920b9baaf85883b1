#include "shared/redact.hpp"

#include <algorithm>

namespace clipal {

std::string key_fingerprint(std::string_view key) {
    if (key.size() < 8) return "…";
    if (key.size() < 16) return "…" + std::string(key.substr(key.size() - 4));
    return std::string(key.substr(0, 3)) + "…" + std::string(key.substr(key.size() - 4));
}

redactor::redactor(std::vector<std::string> secrets) : secrets_(std::move(secrets)) {
    std::erase_if(secrets_, [](const std::string& s) { return s.size() < 4; });
    std::sort(secrets_.begin(), secrets_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
    secrets_.erase(std::unique(secrets_.begin(), secrets_.end()), secrets_.end());
}

std::string redactor::redact(std::string_view text) const {
    std::string out(text);
    for (const auto& s : secrets_) {
        const std::string fp = key_fingerprint(s);
        for (auto pos = out.find(s); pos != std::string::npos; pos = out.find(s, pos + fp.size()))
            out.replace(pos, s.size(), fp);
    }
    return out;
}

} // namespace clipal
