// Parsing of release documents and checksum lists; every field is checked for type so a
// surprising document is reported, never guessed at.
#include "app/release_manifest.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>

namespace clipal::app {

namespace json = boost::json;

const release_asset* release_manifest::find(std::string_view name) const {
    const auto it = std::find_if(assets.begin(), assets.end(), [&](const release_asset& a) { return a.name == name; });
    return it == assets.end() ? nullptr : &*it;
}

std::optional<release_manifest> parse_release_manifest(std::string_view json_text, std::string& error) {
    boost::system::error_code ec;
    const auto doc = json::parse(json_text, ec);
    if (ec) {
        error = "the release description is not JSON (" + ec.message() + ")";
        return std::nullopt;
    }
    const auto* obj = doc.if_object();
    if (obj == nullptr) {
        error = "the release description is not a JSON object";
        return std::nullopt;
    }
    release_manifest m;
    const auto* tag = obj->if_contains("tag_name");
    if (tag == nullptr || !tag->is_string() || tag->get_string().empty()) {
        error = "the release description has no tag_name";
        return std::nullopt;
    }
    m.tag = std::string(tag->get_string());
    if (const auto* pre = obj->if_contains("prerelease"); pre != nullptr && !pre->is_null()) {
        if (!pre->is_bool()) {
            error = "the release description's prerelease is not true or false";
            return std::nullopt;
        }
        m.prerelease = pre->get_bool();
    }
    const auto* assets = obj->if_contains("assets");
    if (assets == nullptr || !assets->is_array()) {
        error = "the release description has no assets list";
        return std::nullopt;
    }
    for (const auto& a : assets->get_array()) {
        const auto* ao = a.if_object();
        const auto* name = ao ? ao->if_contains("name") : nullptr;
        const auto* url = ao ? ao->if_contains("browser_download_url") : nullptr;
        if (name == nullptr || !name->is_string() || url == nullptr || !url->is_string()) {
            error = "an asset in the release description lacks a name or a browser_download_url";
            return std::nullopt;
        }
        release_asset asset{std::string(name->get_string()), std::string(url->get_string()), std::nullopt};
        if (const auto* size = ao->if_contains("size"); size != nullptr) {
            if (size->is_uint64())
                asset.size = size->get_uint64();
            else if (size->is_int64() && size->get_int64() >= 0)
                asset.size = static_cast<std::uint64_t>(size->get_int64());
        }
        m.assets.push_back(std::move(asset));
    }
    return m;
}

std::optional<std::string> checksum_for(std::string_view checksums_txt, std::string_view asset_name) {
    while (!checksums_txt.empty()) {
        const auto nl = checksums_txt.find('\n');
        auto line = checksums_txt.substr(0, nl);
        checksums_txt = nl == std::string_view::npos ? std::string_view{} : checksums_txt.substr(nl + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        // sha256sum: 64 hex digits, a space, then ' ' (text mode) or '*' (binary mode), then the name.
        if (line.size() < 67 || line[64] != ' ' || (line[65] != ' ' && line[65] != '*')) continue;
        if (line.substr(66) != asset_name) continue;
        std::string hex(line.substr(0, 64));
        if (!std::all_of(hex.begin(), hex.end(), [](unsigned char c) { return std::isxdigit(c) != 0; })) continue;
        std::transform(hex.begin(), hex.end(), hex.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        return hex;
    }
    return std::nullopt;
}

std::optional<std::string> asset_name_for(std::string_view os, std::string_view arch) {
    if (arch != "amd64" && arch != "arm64") return std::nullopt;
    if (os == "linux" || os == "darwin") return "clipal-" + std::string(os) + "-" + std::string(arch);
    if (os == "windows" && arch == "amd64") return std::string("clipal-windows-amd64.exe");
    return std::nullopt;
}

std::optional<std::string> this_platform_asset() {
#if defined(__linux__)
    constexpr std::string_view os = "linux";
#elif defined(__APPLE__)
    constexpr std::string_view os = "darwin";
#elif defined(_WIN32)
    constexpr std::string_view os = "windows";
#else
    constexpr std::string_view os = "unknown";
#endif
#if defined(__x86_64__) || defined(_M_X64)
    constexpr std::string_view arch = "amd64";
#elif defined(__aarch64__) || defined(_M_ARM64)
    constexpr std::string_view arch = "arm64";
#else
    constexpr std::string_view arch = "unknown";
#endif
    return asset_name_for(os, arch);
}

} // namespace clipal::app
