// The update sequence. The executable is only ever replaced by rename(2) of a fully
// downloaded, checksum-verified file that already answered --version, so at every moment
// the path holds a complete, working binary; every failure path removes the temporary file.
#include "app/update_command.hpp"

#include "app/control_commands.hpp"
#include "app/current_executable.hpp"
#include "app/release_manifest.hpp"
#include "app/subprocess.hpp"
#include "app/version_compare.hpp"
#include "clipal/version.hpp"
#include "shared/text.hpp"
#include "supervisor/control_socket_path.hpp"

#include <openssl/evp.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace clipal::app {

namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t max_release_json = 1024 * 1024;
constexpr std::uint64_t max_checksums = 256 * 1024;
constexpr std::uint64_t max_asset = 512ull * 1024 * 1024;

class sha256 {
public:
    sha256() : ctx_(::EVP_MD_CTX_new(), ::EVP_MD_CTX_free) {
        if (!ctx_ || ::EVP_DigestInit_ex(ctx_.get(), ::EVP_sha256(), nullptr) != 1)
            throw std::runtime_error("OpenSSL cannot compute SHA-256");
    }
    void update(std::string_view bytes) { ::EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()); }
    std::string hex() {
        std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
        unsigned int len = 0;
        ::EVP_DigestFinal_ex(ctx_.get(), md.data(), &len);
        static constexpr char digits[] = "0123456789abcdef";
        std::string s;
        for (unsigned int i = 0; i < len; ++i) {
            s += digits[md[i] >> 4];
            s += digits[md[i] & 0xf];
        }
        return s;
    }

private:
    std::unique_ptr<EVP_MD_CTX, decltype(&::EVP_MD_CTX_free)> ctx_;
};

// The download target: a 0700 file beside the executable (so the final rename stays on one
// file system), unlinked when the guard dies unless it was installed.
class temp_file {
public:
    // Throws std::runtime_error naming the directory when the file cannot be created.
    explicit temp_file(const fs::path& dir) {
        std::string tmpl = (dir / ".clipal-update-XXXXXX").string();
        fd_ = ::mkstemp(tmpl.data());
        if (fd_ < 0)
            throw std::runtime_error("cannot create a temporary file in " + dir.string() + ": " + errno_text(errno) +
                                     " (clipal replaces itself in place, so its directory must be writable by you)");
        path_ = tmpl;
        // CLOEXEC: a write descriptor inherited by a child would make exec of the file fail (ETXTBSY).
        ::fcntl(fd_, F_SETFD, FD_CLOEXEC);
        ::fchmod(fd_, 0700);
    }
    ~temp_file() {
        close();
        if (!path_.empty()) ::unlink(path_.c_str());
    }
    temp_file(const temp_file&) = delete;
    temp_file& operator=(const temp_file&) = delete;

    const fs::path& path() const { return path_; }

    bool write(std::string_view bytes, std::string& error) {
        while (!bytes.empty()) {
            const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                error = "cannot write " + path_.string() + ": " + errno_text(errno);
                return false;
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    // Flushes to disk and closes, so the file can be executed and survives a crash once renamed.
    bool finish(std::string& error) {
        if (::fsync(fd_) != 0) {
            error = "cannot flush " + path_.string() + ": " + errno_text(errno);
            return false;
        }
        close();
        return true;
    }
    // The file now lives on under another name: do not remove it.
    void release() { path_.clear(); }

private:
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

    int fd_ = -1;
    fs::path path_;
};

struct decision {
    bool install = false;
    bool newer = false;
    int exit_code = 0;
};

// What to do with release `tag` given the running version and the flags; prints why.
std::optional<decision> decide(const update_options& o, const release_manifest& rel, const semver& current,
                               std::ostream& out, std::ostream& err) {
    const auto latest = parse_semver(rel.tag);
    if (!latest) {
        err << "clipal update: the release tag \"" << rel.tag << "\" is not a version (expected e.g. v1.2.3)\n";
        return std::nullopt;
    }
    const auto cmp = *latest <=> current;
    decision d;
    d.newer = cmp > 0 && !rel.prerelease;
    if (o.check) {
        if (d.newer) {
            out << "clipal " << rel.tag << " is available (this is " << current.to_string()
                << "); run `clipal update` to install it\n";
            d.exit_code = exit_update_available;
        } else if (cmp > 0) {
            out << "the newest release " << rel.tag << " is a pre-release; clipal " << current.to_string()
                << " stays (`clipal update --force` installs it)\n";
        } else {
            out << "clipal " << current.to_string() << " is up to date (newest release: " << rel.tag << ")\n";
        }
        return d;
    }
    if (d.newer) {
        d.install = true;
        return d;
    }
    if (!o.force) {
        if (cmp > 0)
            out << "the newest release " << rel.tag << " is a pre-release; not installing it (--force does)\n";
        else if (cmp == 0)
            out << "clipal " << current.to_string() << " is up to date (newest release: " << rel.tag << ")\n";
        else
            out << "the newest release " << rel.tag << " is older than this clipal " << current.to_string()
                << "; nothing to do (--force downgrades)\n";
        return d;
    }
    const char* what = cmp > 0 ? "installing the PRE-RELEASE" : cmp == 0 ? "REINSTALLING" : "DOWNGRADING to";
    err << "WARNING: --force: " << what << " " << rel.tag << " over clipal " << current.to_string() << "\n";
    d.install = true;
    return d;
}

// Runs `<file> --version` and checks that it names `expected`; on failure says why.
bool probe_version(const fs::path& file, const semver& expected, std::chrono::milliseconds timeout,
                   std::string& reported, std::string& error) {
    const auto r = run_subprocess({file.string(), "--version"}, timeout, true);
    reported = r.output.substr(0, r.output.find('\n'));
    if (!r.succeeded()) {
        error = "the downloaded binary failed `--version` (" + r.describe() + ")";
        return false;
    }
    const auto space = reported.find_last_of(' ');
    const auto version = parse_semver(space == std::string::npos ? reported : reported.substr(space + 1));
    if (!version || *version != expected) {
        error = "the downloaded binary reports \"" + reported + "\", not version " + expected.to_string();
        return false;
    }
    return true;
}

// Points a running supervisor at the new binary; the update itself has already succeeded,
// so every outcome here is reported and none is an error.
void tell_supervisor(const fs::path& config_dir, std::ostream& out, std::ostream& err) {
    fs::path socket;
    try {
        socket = supervisor::control_socket_path(config_dir);
    } catch (const std::exception& e) {
        err << "clipal update: cannot look for a running clipal: " << e.what() << "\n";
        return;
    }
    const auto reply = ask_supervisor(socket, "upgrade");
    const char* restart_hint = "restart it by hand to use the new version: `clipal stop && clipal` (or "
                               "`systemctl --user restart clipal` when it runs as a service)\n";
    if (reply.result == control_reply::outcome::not_running) {
        out << "no clipal is running for " << config_dir.string() << "; the new version is used from its next start\n";
        return;
    }
    if (reply.result == control_reply::outcome::failed) {
        err << "clipal update: could not ask the running clipal to restart (" << reply.error << "); " << restart_hint;
        return;
    }
    const auto* obj = reply.value.if_object();
    const auto* ok = obj ? obj->if_contains("ok") : nullptr;
    if (ok != nullptr && ok->is_bool() && ok->get_bool()) {
        out << "the running clipal is re-executing into the new binary without closing its listener\n";
        // The new image answers on the control socket once it has started.
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        while (std::chrono::steady_clock::now() < give_up) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            const auto st = ask_supervisor(socket, "status");
            const auto* so = st.result == control_reply::outcome::ok ? st.value.if_object() : nullptr;
            const auto* v = so ? so->if_contains("version") : nullptr;
            const auto* busy = so ? so->if_contains("upgrading") : nullptr;
            if (v != nullptr && v->is_string() && busy != nullptr && busy->is_bool() && !busy->get_bool()) {
                out << "clipal " << v->get_string().c_str() << " is serving; the previous workers finish their "
                    << "requests and exit\n";
                return;
            }
        }
        err << "clipal update: the running clipal did not answer within 15 s after re-executing; check "
            << "`clipal status` and its log\n";
        return;
    }
    const auto* e = obj ? obj->if_contains("error") : nullptr;
    const std::string why = e != nullptr && e->is_string() ? std::string(e->get_string()) : reply.raw;
    if (why.find("unknown command") != std::string::npos)
        out << "the running clipal cannot switch binaries by itself; " << restart_hint;
    else
        err << "clipal update: the running clipal refused to restart (" << why << "); " << restart_hint;
}

// Moves `fresh` over `exe`, keeping the current file as <exe>.old (a hard link, so `exe`
// never stops existing). Returns false with `error` when `exe` was not replaced.
bool swap_in(temp_file& fresh, const fs::path& exe, const fs::path& old, std::string& error) {
    struct stat st {};
    if (::stat(exe.c_str(), &st) == 0) ::chmod(fresh.path().c_str(), (st.st_mode & 0777) | 0700);
    ::unlink(old.c_str());
    if (::link(exe.c_str(), old.c_str()) != 0) {
        std::error_code ec;
        fs::copy_file(exe, old, fs::copy_options::overwrite_existing, ec);
        if (ec) {
            error = "cannot keep the current binary as " + old.string() + ": " + ec.message();
            return false;
        }
    }
    if (::rename(fresh.path().c_str(), exe.c_str()) != 0) {
        error = "cannot replace " + exe.string() + ": " + errno_text(errno);
        ::unlink(old.c_str());
        return false;
    }
    fresh.release();
    return true;
}

} // namespace

std::string update_endpoint(const std::optional<std::string>& flag) {
    if (flag && !flag->empty()) return *flag;
    if (const char* env = std::getenv(update_endpoint_env); env != nullptr && *env != '\0') return env;
    return std::string(default_update_endpoint);
}

int run_update(const update_options& o, std::ostream& out, std::ostream& err) {
    const std::string current_text = o.current_version.empty() ? clipal::version : o.current_version;
    const auto current = parse_semver(current_text);
    if (!current) {
        err << "clipal update: this build's version \"" << current_text << "\" is not a semantic version\n";
        return exit_update_failed;
    }
    const auto endpoint = update_endpoint(o.endpoint);
    out << "clipal " << current->to_string() << ": looking for a newer release at " << endpoint << "\n";

    std::string body;
    auto r = https_get_text(endpoint, "application/vnd.github+json", max_release_json, body, o.limits);
    if (!r.ok) {
        err << "clipal update: cannot fetch the release description: " << r.error << "\n";
        return exit_update_failed;
    }
    std::string error;
    const auto rel = parse_release_manifest(body, error);
    if (!rel) {
        err << "clipal update: " << error << " (" << endpoint << ")\n";
        return exit_update_failed;
    }
    const auto d = decide(o, *rel, *current, out, err);
    if (!d) return exit_update_failed;
    if (!d->install) return d->exit_code;

    const auto asset_name = this_platform_asset();
    const auto* asset = asset_name ? rel->find(*asset_name) : nullptr;
    if (asset == nullptr) {
        std::string names;
        for (const auto& a : rel->assets) names += (names.empty() ? "" : ", ") + a.name;
        err << "clipal update: release " << rel->tag << " has no asset for this platform ("
            << asset_name.value_or("this OS/CPU is not published")
            << "); its assets: " << (names.empty() ? "none" : names) << "\n";
        return exit_update_failed;
    }
    const auto* sums_asset = rel->find(checksums_asset_name);
    if (sums_asset == nullptr) {
        err << "clipal update: release " << rel->tag << " has no " << checksums_asset_name
            << ", so its download cannot be verified; not installing it\n";
        return exit_update_failed;
    }
    std::string sums;
    r = https_get_text(sums_asset->url, "application/octet-stream", max_checksums, sums, o.limits);
    if (!r.ok) {
        err << "clipal update: cannot fetch " << checksums_asset_name << ": " << r.error << "\n";
        return exit_update_failed;
    }
    const auto expected = checksum_for(sums, asset->name);
    if (!expected) {
        err << "clipal update: " << checksums_asset_name << " of " << rel->tag << " has no SHA-256 line for "
            << asset->name << "; not installing it\n";
        return exit_update_failed;
    }

    fs::path exe;
    try {
        exe = o.executable.empty() ? current_executable() : fs::absolute(o.executable);
    } catch (const std::exception& e) {
        err << "clipal update: " << e.what() << "\n";
        return exit_update_failed;
    }
    const fs::path old = exe.string() + ".old";
    if (o.dry_run) {
        out << "dry run: would download " << asset->url << ", check it against SHA-256 " << *expected
            << ", run it with --version, replace " << exe.string() << " and keep the current one as " << old.string()
            << "; nothing was changed\n";
        return 0;
    }

    try {
        temp_file tmp(exe.parent_path());
        sha256 hash;
        std::string write_error;
        out << "downloading " << asset->name << " from " << asset->url << "\n";
        r = https_get(
            asset->url, "application/octet-stream", max_asset,
            [&](std::string_view chunk) {
                hash.update(chunk);
                return tmp.write(chunk, write_error);
            },
            o.limits);
        const char* untouched = "; the current binary was not changed\n";
        if (!r.ok) {
            err << "clipal update: download failed: " << (write_error.empty() ? r.error : write_error) << untouched;
            return exit_update_failed;
        }
        if (asset->size && *asset->size != r.bytes) {
            err << "clipal update: downloaded " << r.bytes << " bytes of " << asset->name << " but the release lists "
                << *asset->size << untouched;
            return exit_update_failed;
        }
        if (const auto actual = hash.hex(); actual != *expected) {
            err << "clipal update: checksum mismatch for " << asset->name << ": " << checksums_asset_name << " says "
                << *expected << ", the download is " << actual << untouched;
            return exit_update_failed;
        }
        if (!tmp.finish(write_error)) {
            err << "clipal update: " << write_error << untouched;
            return exit_update_failed;
        }
        std::string reported;
        if (!probe_version(tmp.path(), *parse_semver(rel->tag), o.version_probe_timeout, reported, error)) {
            err << "clipal update: " << error << untouched;
            return exit_update_failed;
        }
        out << "verified SHA-256 " << *expected << "; the new binary reports \"" << reported << "\"\n";
        if (!swap_in(tmp, exe, old, error)) {
            err << "clipal update: " << error << untouched;
            return exit_update_failed;
        }
    } catch (const std::runtime_error& e) {
        err << "clipal update: " << e.what() << "\n";
        return exit_update_failed;
    }
    out << "installed clipal " << rel->tag << " at " << exe.string() << " (the previous binary is kept as "
        << old.string() << ")\n";
    tell_supervisor(o.config_dir, out, err);
    return 0;
}

} // namespace clipal::app
