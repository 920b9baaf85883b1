#include "supervisor/upgrade_state.hpp"

#include "platform/anonymous_file.hpp"
#include "platform/cloexec.hpp"

#include <boost/json.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace clipal::supervisor {
namespace {

namespace json = boost::json;

// The state is never bigger than this (64 KiB heads, hex-encoded, for at most a few
// thousand connections would be far less); anything larger is not ours.
constexpr std::size_t max_state_bytes = 64 * 1024 * 1024;

// Client bytes are arbitrary octets and JSON strings are UTF-8: hex keeps them exact.
std::string hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 0xf];
    }
    return out;
}

std::optional<std::string> unhex(std::string_view text) {
    if (text.size() % 2 != 0) return std::nullopt;
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    std::string out;
    out.reserve(text.size() / 2);
    for (std::size_t i = 0; i < text.size(); i += 2) {
        const int hi = nibble(text[i]), lo = nibble(text[i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out += static_cast<char>(hi << 4 | lo);
    }
    return out;
}

const json::value* field(const json::object& o, std::string_view name) { return o.if_contains(name); }

bool read_fd(const json::object& o, std::string_view name, int& out) {
    const auto* v = field(o, name);
    if (v == nullptr || !v->is_int64() || v->as_int64() < 0 || v->as_int64() > 1'000'000) return false;
    out = static_cast<int>(v->as_int64());
    return true;
}

} // namespace

std::vector<int> upgrade_state::descriptors() const {
    std::vector<int> fds;
    if (listener_fd >= 0) fds.push_back(listener_fd);
    for (const auto& c : connections) fds.push_back(c.fd);
    for (const auto& w : workers) fds.push_back(w.channel_fd);
    return fds;
}

std::string to_json(const upgrade_state& s) {
    json::object o;
    o["version"] = 1;
    o["listener_fd"] = s.listener_fd;
    json::array conns;
    for (const auto& c : s.connections)
        conns.push_back(json::object{{"fd", c.fd}, {"bytes", hex(c.bytes)}, {"addr", c.addr}, {"routed", c.routed}});
    o["connections"] = std::move(conns);
    json::array workers;
    for (const auto& w : s.workers)
        workers.push_back(json::object{{"profile", info(w.id).name}, {"pid", w.pid}, {"channel_fd", w.channel_fd}});
    o["workers"] = std::move(workers);
    return json::serialize(o);
}

std::optional<upgrade_state> upgrade_state_from_json(std::string_view text, std::string& error) {
    boost::system::error_code ec;
    const auto v = json::parse(text, ec);
    const auto* o = ec ? nullptr : v.if_object();
    if (o == nullptr) {
        error = "not a JSON object";
        return std::nullopt;
    }
    const auto* version = field(*o, "version");
    if (version == nullptr || !version->is_int64() || version->as_int64() != 1) {
        error = "unknown state version";
        return std::nullopt;
    }
    upgrade_state s;
    if (const auto* l = field(*o, "listener_fd"); l != nullptr && l->is_int64() && l->as_int64() == -1)
        s.listener_fd = -1;
    else if (!read_fd(*o, "listener_fd", s.listener_fd)) {
        error = "bad listener_fd";
        return std::nullopt;
    }
    const auto* conns = field(*o, "connections");
    const auto* workers = field(*o, "workers");
    if (conns == nullptr || !conns->is_array() || workers == nullptr || !workers->is_array()) {
        error = "connections and workers must be arrays";
        return std::nullopt;
    }
    for (const auto& cv : conns->as_array()) {
        const auto* c = cv.if_object();
        upgrade_state::connection conn;
        const auto* bytes = c ? field(*c, "bytes") : nullptr;
        const auto* addr = c ? field(*c, "addr") : nullptr;
        const auto* routed = c ? field(*c, "routed") : nullptr;
        std::optional<std::string> raw;
        if (c == nullptr || !read_fd(*c, "fd", conn.fd) || bytes == nullptr || !bytes->is_string() ||
            !(raw = unhex(bytes->as_string())) || addr == nullptr || !addr->is_string() || routed == nullptr ||
            !routed->is_bool()) {
            error = "malformed connection entry";
            return std::nullopt;
        }
        conn.bytes = std::move(*raw);
        conn.addr = std::string(addr->as_string());
        conn.routed = routed->as_bool();
        s.connections.push_back(std::move(conn));
    }
    for (const auto& wv : workers->as_array()) {
        const auto* w = wv.if_object();
        upgrade_state::worker wk;
        const auto* name = w ? field(*w, "profile") : nullptr;
        const auto* pid = w ? field(*w, "pid") : nullptr;
        const auto id = name != nullptr && name->is_string() ? profile_from_name(name->as_string()) : std::nullopt;
        if (!id || pid == nullptr || !pid->is_int64() || pid->as_int64() <= 0 ||
            !read_fd(*w, "channel_fd", wk.channel_fd)) {
            error = "malformed worker entry";
            return std::nullopt;
        }
        wk.id = *id;
        wk.pid = static_cast<int>(pid->as_int64());
        s.workers.push_back(wk);
    }
    return s;
}

int write_upgrade_state(const upgrade_state& s, std::string& error) {
    const int fd = platform::anonymous_file("clipal-upgrade-state", error);
    if (fd < 0) return -1;
    platform::set_cloexec(fd, false); // the re-executed image reads it
    const std::string text = to_json(s);
    std::size_t done = 0;
    while (done < text.size()) {
        const auto n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            error = std::string("writing the upgrade state: ") + std::strerror(errno);
            ::close(fd);
            return -1;
        }
        done += static_cast<std::size_t>(n);
    }
    if (::lseek(fd, 0, SEEK_SET) != 0) {
        error = std::string("lseek: ") + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    return fd;
}

std::optional<upgrade_state> take_upgrade_state(std::string& error) {
    const char* value = std::getenv(upgrade_state_env);
    if (value == nullptr) return std::nullopt;
    char* end = nullptr;
    const long fd = std::strtol(value, &end, 10);
    ::unsetenv(upgrade_state_env);
    if (end == nullptr || *end != '\0' || fd < 0 || fd > 1'000'000) {
        error = "bad " + std::string(upgrade_state_env);
        return std::nullopt;
    }
    std::string text;
    char buf[65536];
    for (;;) {
        const auto n = ::read(static_cast<int>(fd), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            error = std::string("reading the upgrade state: ") + std::strerror(errno);
            ::close(static_cast<int>(fd));
            return std::nullopt;
        }
        if (n == 0) break;
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > max_state_bytes) {
            error = "the upgrade state is larger than 64 MiB";
            ::close(static_cast<int>(fd));
            return std::nullopt;
        }
    }
    ::close(static_cast<int>(fd));
    return upgrade_state_from_json(text, error);
}

} // namespace clipal::supervisor
