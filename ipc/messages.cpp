// Binary encoding of the IPC messages. Each payload is its fields in declaration
// order; strings are a u32 length then the bytes; booleans and levels are one byte.
#include "ipc/messages.hpp"

#include <fmt/format.h>

#include <type_traits>

namespace clipal::ipc {
namespace {

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

// Wire values of log_level, independent of the enum's order in shared/config.hpp.
std::uint8_t level_to_wire(log_level l) {
    switch (l) {
    case log_level::debug: return 0;
    case log_level::info: return 1;
    case log_level::warn: return 2;
    case log_level::error: return 3;
    }
    return 1;
}

std::optional<log_level> level_from_wire(std::uint8_t v) {
    switch (v) {
    case 0: return log_level::debug;
    case 1: return log_level::info;
    case 2: return log_level::warn;
    case 3: return log_level::error;
    default: return std::nullopt;
    }
}

class payload_writer {
public:
    explicit payload_writer(message_type t) : type_(t) {}

    void uint(std::uint64_t v, std::size_t width) {
        for (std::size_t i = 0; i < width; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    void u8(std::uint8_t v) { uint(v, 1); }
    void u16(std::uint16_t v) { uint(v, 2); }
    void u32(std::uint32_t v) { uint(v, 4); }
    void u64(std::uint64_t v) { uint(v, 8); }
    void i64(std::int64_t v) { uint(static_cast<std::uint64_t>(v), 8); }

    void str(std::string_view s, std::size_t max, std::string_view field) {
        if (s.size() > max) {
            if (reason_.empty())
                reason_ = fmt::format("{}.{} is {} bytes, the limit is {}", to_string(type_), field, s.size(), max);
            return;
        }
        u32(static_cast<std::uint32_t>(s.size()));
        out_.insert(out_.end(), s.begin(), s.end());
    }

    encode_result finish() {
        encode_result r;
        if (reason_.empty() && out_.size() > max_payload_size)
            reason_ =
                fmt::format("{} payload is {} bytes, the limit is {}", to_string(type_), out_.size(), max_payload_size);
        if (!reason_.empty()) {
            r.error = errc::field_too_large;
            r.reason = std::move(reason_);
            return r;
        }
        r.frame = *encode_frame(static_cast<std::uint16_t>(type_), out_);
        return r;
    }

private:
    message_type type_;
    bytes out_;
    std::string reason_;
};

class payload_reader {
public:
    payload_reader(message_type t, byte_view in) : type_(t), in_(in) {}

    bool uint(std::uint64_t& v, std::size_t width, std::string_view field) {
        if (!fits(width, field)) return false;
        v = 0;
        for (std::size_t i = 0; i < width; ++i) v |= std::uint64_t{in_[pos_ + i]} << (8 * i);
        pos_ += width;
        return true;
    }
    template <class T>
    bool num(T& out, std::string_view field) {
        std::uint64_t v = 0;
        if (!uint(v, sizeof(T), field)) return false;
        out = static_cast<T>(v);
        return true;
    }

    bool boolean(bool& out, std::string_view field) {
        std::uint8_t v = 0;
        if (!num(v, field)) return false;
        if (v > 1) return fail(fmt::format("{} is {}, not 0 or 1", field, v));
        out = v == 1;
        return true;
    }

    bool str(std::string& out, std::size_t max, std::string_view field) {
        std::uint32_t len = 0;
        if (!num(len, field)) return false;
        if (len > max) return fail(fmt::format("{} declares {} bytes, the limit is {}", field, len, max));
        if (!fits(len, field)) return false;
        out.assign(reinterpret_cast<const char*>(in_.data() + pos_), len);
        pos_ += len;
        return true;
    }

    bool fail(std::string why) {
        if (reason_.empty()) reason_ = fmt::format("{}: {}", to_string(type_), why);
        return false;
    }

    // Every byte must be accounted for: a payload with extra bytes is not one we wrote.
    message_decode_result finish(bool ok, message m) {
        message_decode_result r;
        if (ok && pos_ != in_.size()) fail(fmt::format("{} unexpected bytes after the last field", in_.size() - pos_));
        if (!reason_.empty()) {
            r.error = errc::malformed_payload;
            r.reason = std::move(reason_);
            return r;
        }
        r.value = std::move(m);
        return r;
    }

private:
    bool fits(std::size_t n, std::string_view field) {
        if (in_.size() - pos_ >= n) return true;
        return fail(fmt::format("payload ends inside {} ({} bytes needed, {} left)", field, n, in_.size() - pos_));
    }

    message_type type_;
    byte_view in_;
    std::size_t pos_ = 0;
    std::string reason_;
};

template <class Handoff>
void write_handoff(payload_writer& w, const Handoff& h) {
    w.u64(h.connection_id);
    w.str(h.initial_bytes, max_handoff_bytes, "initial_bytes");
    w.str(h.client_address, max_address_size, "client_address");
}

template <class Handoff>
bool read_handoff(payload_reader& r, Handoff& h) {
    return r.num(h.connection_id, "connection_id") && r.str(h.initial_bytes, max_handoff_bytes, "initial_bytes") &&
           r.str(h.client_address, max_address_size, "client_address");
}

template <class M, class Read>
message_decode_result read_as(message_type t, byte_view payload, Read read) {
    payload_reader r(t, payload);
    M m;
    const bool ok = read(r, m);
    return r.finish(ok, std::move(m));
}

} // namespace

message_type type_of(const message& m) {
    return std::visit(overloaded{
                          [](const hello&) { return message_type::hello; },
                          [](const config_push&) { return message_type::config_push; },
                          [](const config_ack&) { return message_type::config_ack; },
                          [](const ready&) { return message_type::ready; },
                          [](const heartbeat&) { return message_type::heartbeat; },
                          [](const status_request&) { return message_type::status_request; },
                          [](const status_reply&) { return message_type::status_reply; },
                          [](const log_record&) { return message_type::log_record; },
                          [](const drain&) { return message_type::drain; },
                          [](const handoff&) { return message_type::handoff; },
                          [](const handoff_back&) { return message_type::handoff_back; },
                          [](const unrecognised&) { return message_type::unrecognised; },
                          [](const handoff_ack&) { return message_type::handoff_ack; },
                          [](const handoff_refused&) { return message_type::handoff_refused; },
                          [](const worker_report&) { return message_type::worker_report; },
                      },
                      m);
}

std::string_view to_string(message_type t) {
    switch (t) {
    case message_type::hello: return "hello";
    case message_type::config_push: return "config_push";
    case message_type::config_ack: return "config_ack";
    case message_type::ready: return "ready";
    case message_type::heartbeat: return "heartbeat";
    case message_type::status_request: return "status_request";
    case message_type::status_reply: return "status_reply";
    case message_type::log_record: return "log_record";
    case message_type::drain: return "drain";
    case message_type::handoff: return "handoff";
    case message_type::handoff_back: return "handoff_back";
    case message_type::unrecognised: return "unrecognised";
    case message_type::handoff_ack: return "handoff_ack";
    case message_type::handoff_refused: return "handoff_refused";
    case message_type::worker_report: return "worker_report";
    }
    return "unknown";
}

bool is_known_type(std::uint16_t type) {
    constexpr std::uint16_t retired_shutdown = 13;
    return type >= static_cast<std::uint16_t>(message_type::hello) &&
           type <= static_cast<std::uint16_t>(message_type::worker_report) && type != retired_shutdown;
}

bool carries_descriptor(message_type t) { return t == message_type::handoff || t == message_type::handoff_back; }

encode_result encode(const message& m) {
    payload_writer w(type_of(m));
    std::visit(overloaded{
                   [&](const hello& h) {
                       w.u16(h.protocol_version);
                       w.str(h.profile, max_name_size, "profile");
                       w.u32(h.pid);
                       w.str(h.clipal_version, max_name_size, "clipal_version");
                   },
                   [&](const config_push& c) {
                       w.u64(c.generation);
                       w.str(c.config_json, max_payload_size, "config_json");
                   },
                   [&](const config_ack& a) {
                       w.u64(a.generation);
                       w.u8(a.ok ? 1 : 0);
                       w.str(a.error, max_error_text_size, "error");
                   },
                   [&](const ready& r) { w.u64(r.generation); },
                   [&](const heartbeat& h) { w.u64(h.seq); },
                   [&](const status_request& s) { w.u64(s.id); },
                   [&](const status_reply& s) {
                       w.u64(s.id);
                       w.str(s.json, max_payload_size, "json");
                   },
                   [&](const log_record& l) {
                       w.u8(level_to_wire(l.level));
                       w.i64(l.unix_time_ns);
                       w.str(l.tag, max_name_size, "tag");
                       w.str(l.message, max_log_message_size, "message");
                   },
                   [&](const drain& d) { w.u32(d.deadline_ms); },
                   [&](const handoff& h) { write_handoff(w, h); },
                   [&](const handoff_back& h) { write_handoff(w, h); },
                   [&](const unrecognised& u) { w.u16(u.type); },
                   [&](const handoff_ack& a) { w.u64(a.connection_id); },
                   [&](const handoff_refused& r) {
                       w.u64(r.connection_id);
                       w.str(r.reason, max_reason_size, "reason");
                   },
                   [&](const worker_report& r) {
                       w.str(r.json, max_payload_size - 8, "json");
                       w.str(r.rows, max_report_rows_size, "rows");
                   },
               },
               m);
    return w.finish();
}

message_decode_result decode(std::uint16_t type, byte_view payload) {
    if (!is_known_type(type)) {
        message_decode_result r;
        r.error = errc::unknown_message_type;
        r.reason = fmt::format("unknown message type {}", type);
        return r;
    }
    const auto t = static_cast<message_type>(type);
    switch (t) {
    case message_type::hello: {
        auto r = read_as<hello>(t, payload, [](payload_reader& rd, hello& h) {
            return rd.num(h.protocol_version, "protocol_version") && rd.str(h.profile, max_name_size, "profile") &&
                   rd.num(h.pid, "pid") && rd.str(h.clipal_version, max_name_size, "clipal_version");
        });
        // The frame header already matched; this catches a peer that lies in one of the two.
        if (r && std::get<hello>(*r.value).protocol_version != protocol_version) {
            const auto v = std::get<hello>(*r.value).protocol_version;
            r.value.reset();
            r.error = errc::bad_version;
            r.reason =
                fmt::format("hello: peer speaks IPC protocol version {}, this build speaks {}", v, protocol_version);
        }
        return r;
    }
    case message_type::config_push:
        return read_as<config_push>(t, payload, [](payload_reader& rd, config_push& c) {
            return rd.num(c.generation, "generation") && rd.str(c.config_json, max_payload_size, "config_json");
        });
    case message_type::config_ack:
        return read_as<config_ack>(t, payload, [](payload_reader& rd, config_ack& a) {
            return rd.num(a.generation, "generation") && rd.boolean(a.ok, "ok") &&
                   rd.str(a.error, max_error_text_size, "error");
        });
    case message_type::ready:
        return read_as<ready>(t, payload,
                              [](payload_reader& rd, ready& r) { return rd.num(r.generation, "generation"); });
    case message_type::heartbeat:
        return read_as<heartbeat>(t, payload, [](payload_reader& rd, heartbeat& h) { return rd.num(h.seq, "seq"); });
    case message_type::status_request:
        return read_as<status_request>(t, payload,
                                       [](payload_reader& rd, status_request& s) { return rd.num(s.id, "id"); });
    case message_type::status_reply:
        return read_as<status_reply>(t, payload, [](payload_reader& rd, status_reply& s) {
            return rd.num(s.id, "id") && rd.str(s.json, max_payload_size, "json");
        });
    case message_type::log_record:
        return read_as<log_record>(t, payload, [](payload_reader& rd, log_record& l) {
            std::uint8_t level = 0;
            if (!rd.num(level, "level")) return false;
            const auto parsed = level_from_wire(level);
            if (!parsed) return rd.fail(fmt::format("level {} is not a log level", level));
            l.level = *parsed;
            return rd.num(l.unix_time_ns, "unix_time_ns") && rd.str(l.tag, max_name_size, "tag") &&
                   rd.str(l.message, max_log_message_size, "message");
        });
    case message_type::drain:
        return read_as<drain>(t, payload,
                              [](payload_reader& rd, drain& d) { return rd.num(d.deadline_ms, "deadline_ms"); });
    case message_type::handoff:
        return read_as<handoff>(t, payload, [](payload_reader& rd, handoff& h) { return read_handoff(rd, h); });
    case message_type::handoff_back:
        return read_as<handoff_back>(t, payload,
                                     [](payload_reader& rd, handoff_back& h) { return read_handoff(rd, h); });
    case message_type::unrecognised:
        return read_as<unrecognised>(t, payload,
                                     [](payload_reader& rd, unrecognised& u) { return rd.num(u.type, "type"); });
    case message_type::handoff_ack:
        return read_as<handoff_ack>(t, payload, [](payload_reader& rd, handoff_ack& a) {
            return rd.num(a.connection_id, "connection_id");
        });
    case message_type::handoff_refused:
        return read_as<handoff_refused>(t, payload, [](payload_reader& rd, handoff_refused& r) {
            return rd.num(r.connection_id, "connection_id") && rd.str(r.reason, max_reason_size, "reason");
        });
    case message_type::worker_report:
        return read_as<worker_report>(t, payload, [](payload_reader& rd, worker_report& r) {
            return rd.str(r.json, max_payload_size - 8, "json") && rd.str(r.rows, max_report_rows_size, "rows");
        });
    }
    return {};
}

namespace {

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence, marking the cut.
std::string cut(std::string_view s, std::size_t max) {
    if (s.size() <= max) return std::string(s);
    constexpr std::string_view marker = "\xE2\x80\xA6[truncated]";
    std::size_t end = max > marker.size() ? max - marker.size() : 0;
    while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
    std::string out(s.substr(0, end));
    if (out.size() + marker.size() <= max) out += marker;
    return out;
}

} // namespace

log_record to_wire(const clipal::log_record& r) {
    log_record w;
    w.level = r.level;
    w.unix_time_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(r.time.time_since_epoch()).count();
    w.tag = cut(r.tag, max_name_size);
    w.message = cut(r.message, max_log_message_size);
    return w;
}

clipal::log_record from_wire(const log_record& r) {
    clipal::log_record out;
    out.level = r.level;
    out.time = clock::time_point(
        std::chrono::duration_cast<clock::time_point::duration>(std::chrono::nanoseconds(r.unix_time_ns)));
    out.tag = r.tag;
    out.message = r.message;
    return out;
}

} // namespace clipal::ipc
