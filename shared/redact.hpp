// Keeping API keys out of every line clipal prints: fingerprints for display and a
// redactor any log call site can run a line through.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace clipal {

// A short, non-reversible label for a key: "sk-…abcd" (first 3 and last 4 characters of
// keys of 16+ characters, only the last 4 of shorter ones, nothing of very short ones).
std::string key_fingerprint(std::string_view key);

// A request target as a log line may show it: the value of every `key` query parameter
// (Gemini's URL credential; the name compared case-insensitively, percent-encoding decoded)
// is replaced by its fingerprint, whether or not it is a configured key.
std::string redact_target(std::string_view target);

// Replaces every occurrence of a known key with its fingerprint.
class redactor {
public:
    redactor() = default;
    explicit redactor(std::vector<std::string> secrets);

    std::string redact(std::string_view text) const;
    bool empty() const { return secrets_.empty(); }

private:
    std::vector<std::string> secrets_; // longest first, so a key containing another is replaced whole
};

} // namespace clipal
