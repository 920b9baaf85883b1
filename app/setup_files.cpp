// Reads and atomic writes for `clipal setup`, and its backup records (Boost.JSON).
#include "app/setup_files.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <openssl/evp.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#ifndef _WIN32
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace clipal::app::setup {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::uintmax_t max_file_size = 16 * 1024 * 1024;

std::string errno_text() { return std::strerror(errno); }

} // namespace

fs::path write_target(const fs::path& path) {
    fs::path p = path;
    for (int hops = 0; hops < 40; ++hops) {
        std::error_code ec;
        if (!fs::is_symlink(fs::symlink_status(p, ec))) return p;
        const auto target = fs::read_symlink(p, ec);
        if (ec) return p;
        p = target.is_absolute() ? target : p.parent_path() / target;
    }
    return p;
}

std::optional<std::string> read_file(const fs::path& path, file_contents& out) {
    out = {};
    std::error_code ec;
    const auto st = fs::status(path, ec);
    if (ec || !fs::exists(st)) {
        if (ec && ec != std::errc::no_such_file_or_directory && ec != std::errc::not_a_directory)
            return fmt::format("cannot read {}: {}", path.string(), ec.message());
        return std::nullopt; // missing (or a dangling link, written through)
    }
    if (!fs::is_regular_file(st)) return fmt::format("{} is not a regular file", path.string());
    const auto size = fs::file_size(path, ec);
    if (!ec && size > max_file_size) return fmt::format("{} is larger than 16 MiB", path.string());
    std::ifstream in(path, std::ios::binary);
    if (!in) return fmt::format("cannot read {}: {}", path.string(), errno_text());
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return fmt::format("cannot read {}", path.string());
    out.exists = true;
    out.bytes = std::move(text).str();
    out.mode = st.permissions() & fs::perms::mask;
    return std::nullopt;
}

std::optional<std::string> create_directories(const fs::path& dir, std::vector<fs::path>& created) {
    std::vector<fs::path> missing;
    std::error_code ec;
    for (fs::path p = dir; !p.empty() && !fs::exists(p, ec); p = p.parent_path()) {
        missing.push_back(p);
        if (p == p.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        if (!fs::create_directory(*it, ec) && ec)
            return fmt::format("cannot create {}: {}", it->string(), ec.message());
        fs::permissions(*it, fs::perms::owner_all, ec);
        created.push_back(*it);
    }
    return std::nullopt;
}

std::optional<std::string> write_atomically(const fs::path& path, std::string_view bytes, fs::perms mode) {
    static std::atomic<unsigned> counter{0};
    const auto target = write_target(path);
    const auto dir = target.parent_path().empty() ? fs::path(".") : target.parent_path();
#ifdef _WIN32
    const auto temp = dir / fmt::format(".{}.clipal-setup-{}.tmp", target.filename().string(), counter++);
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        if (!out.flush()) return fmt::format("cannot write {}", temp.string());
    }
    std::error_code ec;
    fs::permissions(temp, mode, ec);
    fs::rename(temp, target, ec);
    if (ec) {
        fs::remove(temp, ec);
        return fmt::format("cannot replace {}: {}", target.string(), ec.message());
    }
    return std::nullopt;
#else
    const auto temp =
        dir / fmt::format(".{}.clipal-setup-{}-{}.tmp", target.filename().string(), ::getpid(), counter++);
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return fmt::format("cannot create {}: {}", temp.string(), errno_text());
    const auto fail = [&](std::string why) {
        ::close(fd);
        ::unlink(temp.c_str());
        return std::optional<std::string>(std::move(why));
    };
    std::size_t done = 0;
    while (done < bytes.size()) {
        const auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(fmt::format("cannot write {}: {}", temp.string(), errno_text()));
        done += static_cast<std::size_t>(n);
    }
    // Run as root on someone's file (sudo), the file stays theirs.
    if (struct stat st{}; ::stat(target.c_str(), &st) == 0 && (st.st_uid != ::geteuid() || st.st_gid != ::getegid())) {
        [[maybe_unused]] const int ignored = ::fchown(fd, st.st_uid, st.st_gid); // best effort
    }
    if (::fchmod(fd, static_cast<mode_t>(mode & fs::perms::mask)) != 0)
        return fail(fmt::format("cannot set the mode of {}: {}", temp.string(), errno_text()));
    if (::fsync(fd) != 0) return fail(fmt::format("cannot write {}: {}", temp.string(), errno_text()));
    if (::close(fd) != 0) {
        ::unlink(temp.c_str());
        return fmt::format("cannot write {}: {}", temp.string(), errno_text());
    }
    if (::rename(temp.c_str(), target.c_str()) != 0) {
        const auto why = errno_text();
        ::unlink(temp.c_str());
        return fmt::format("cannot replace {}: {}", target.string(), why);
    }
    // The rename itself survives a crash only once the directory is on disk.
    if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return std::nullopt;
#endif
}

std::string sha256_hex(std::string_view bytes) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
    std::string out;
    for (unsigned i = 0; i < length; ++i) out += fmt::format("{:02x}", digest[i]);
    return out;
}

std::string to_json(const tool_record& record) {
    json::array files;
    for (const auto& f : record.files) {
        json::array keys;
        for (const auto& k : f.keys) {
            json::array path;
            for (const auto& p : k.path) path.emplace_back(json::string(p));
            json::object o{{"path", std::move(path)}, {"new", k.new_value}};
            o["old"] = k.old_value ? json::value(json::string(*k.old_value)) : json::value(nullptr);
            if (k.container) o["container"] = true;
            keys.emplace_back(std::move(o));
        }
        json::array dirs;
        for (const auto& d : f.created_dirs) dirs.emplace_back(json::string(d.string()));
        files.emplace_back(json::object{{"role", f.role},
                                        {"path", f.path.string()},
                                        {"existed", f.existed},
                                        {"backup", f.backup},
                                        {"mode", f.mode},
                                        {"written_sha256", f.written_sha256},
                                        {"keys", std::move(keys)},
                                        {"created_dirs", std::move(dirs)}});
    }
    json::object root{{"format", 1}, {"tool", record.tool}, {"files", std::move(files)}};
    return json::serialize(root) + "\n";
}

std::optional<tool_record> tool_record_from_json(std::string_view text, std::string& error) {
    try {
        const auto v = json::parse(text);
        const auto& root = v.as_object();
        if (root.at("format").to_number<int>() != 1) {
            error = "written by another version of clipal (format " + json::serialize(root.at("format")) + ")";
            return std::nullopt;
        }
        tool_record r;
        r.tool = std::string(root.at("tool").as_string());
        for (const auto& fv : root.at("files").as_array()) {
            const auto& fo = fv.as_object();
            file_record f;
            f.role = std::string(fo.at("role").as_string());
            f.path = std::string(fo.at("path").as_string());
            f.existed = fo.at("existed").as_bool();
            f.backup = std::string(fo.at("backup").as_string());
            f.mode = fo.at("mode").to_number<unsigned>();
            f.written_sha256 = std::string(fo.at("written_sha256").as_string());
            for (const auto& kv : fo.at("keys").as_array()) {
                const auto& ko = kv.as_object();
                key_record k;
                for (const auto& p : ko.at("path").as_array()) k.path.emplace_back(p.as_string());
                k.new_value = std::string(ko.at("new").as_string());
                if (const auto& old = ko.at("old"); old.is_string()) k.old_value = std::string(old.as_string());
                if (const auto* c = ko.if_contains("container")) k.container = c->as_bool();
                f.keys.push_back(std::move(k));
            }
            for (const auto& d : fo.at("created_dirs").as_array())
                f.created_dirs.emplace_back(std::string(d.as_string()));
            r.files.push_back(std::move(f));
        }
        return r;
    } catch (const std::exception& e) {
        error = std::string("not a clipal setup record: ") + e.what();
        return std::nullopt;
    }
}

} // namespace clipal::app::setup
