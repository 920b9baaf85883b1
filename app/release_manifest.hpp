// What `clipal update` reads from a release: the GitHub releases API document ("latest"
// shape: tag_name, prerelease, assets[{name, browser_download_url, size}]), the
// sha256sum-format checksums.txt, and which asset belongs to this OS and CPU. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clipal::app {

struct release_asset {
    std::string name;
    std::string url;                   // browser_download_url
    std::optional<std::uint64_t> size; // bytes, when the document states it
};

struct release_manifest {
    std::string tag; // tag_name as published, e.g. "v1.2.10"
    bool prerelease = false;
    std::vector<release_asset> assets;

    const release_asset* find(std::string_view name) const;
};

// The name of the checksums asset every release must carry.
inline constexpr std::string_view checksums_asset_name = "checksums.txt";

// Parses the release document. On failure returns nullopt and sets `error` to a
// sentence naming what is wrong (not JSON, no tag_name, an asset without a URL...).
std::optional<release_manifest> parse_release_manifest(std::string_view json_text, std::string& error);

// The lower-case SHA-256 hex that `checksums_txt` ("<64 hex>  <name>" or "<64 hex> *<name>"
// lines, as sha256sum writes them) gives for `asset_name`; nullopt when no valid line names it.
std::optional<std::string> checksum_for(std::string_view checksums_txt, std::string_view asset_name);

// Release asset names: clipal-<os>-<arch>[.exe] for os linux|darwin|windows and arch
// amd64|arm64 (windows: amd64 only). nullopt for a combination that is not published.
std::optional<std::string> asset_name_for(std::string_view os, std::string_view arch);

// The asset for the platform this binary was compiled for; nullopt on an unpublished one.
std::optional<std::string> this_platform_asset();

} // namespace clipal::app
