// The messages supervisor and worker exchange (ipc/README.md lists who sends what and
// when), with their binary encoding: fixed-width little-endian integers and u32
// length-prefixed strings, each bounded. Decoding never trusts a length. Pure code.
#pragma once

#include "ipc/frame_codec.hpp"
#include "shared/config.hpp"
#include "shared/log.hpp"
#include "shared/usage_rows_codec.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace clipal::ipc {

// Wire values; never renumber, only append.
enum class message_type : std::uint16_t {
    hello = 1,
    config_push = 2,
    config_ack = 3,
    ready = 4,
    heartbeat = 5,
    status_request = 6,
    status_reply = 7,
    log_record = 8,
    drain = 9,
    handoff = 10,
    handoff_back = 11,
    unrecognised = 12,
    // 13 was `shutdown`, which nothing sent (drain is the shutdown); a peer that sends it
    // is answered `unrecognised`.
    handoff_ack = 14,
    handoff_refused = 15,
    worker_report = 16,
};

// Per-field bounds, checked by both encoder and decoder. Fields not listed here
// (config and status JSON) are bounded only by max_payload_size.
inline constexpr std::size_t max_name_size = 64;               // profile name, log tag, version
inline constexpr std::size_t max_error_text_size = 16 * 1024;  // config_ack.error
inline constexpr std::size_t max_log_message_size = 32 * 1024; // log_record.message
inline constexpr std::size_t max_handoff_bytes = 128 * 1024;   // handoff.initial_bytes
inline constexpr std::size_t max_address_size = 256;           // handoff.client_address
inline constexpr std::size_t max_reason_size = 1024;           // handoff_refused.reason

// worker_report.rows, 160 KiB: the usage rows' encoder keeps its blocks within it.
inline constexpr std::size_t max_report_rows_size = max_usage_rows_block_size;

// worker -> supervisor, first message on the channel.
struct hello {
    std::uint16_t protocol_version = ipc::protocol_version;
    std::string profile; // "claude-code", ...
    std::uint32_t pid = 0;
    std::string clipal_version;
    bool operator==(const hello&) const = default;
};

// supervisor -> worker: the whole config to run with (ipc/config_codec.hpp makes the JSON).
struct config_push {
    std::uint64_t generation = 0;
    std::string config_json;
    bool operator==(const config_push&) const = default;
};

// worker -> supervisor: answer to config_push; on !ok the worker keeps its previous config.
struct config_ack {
    std::uint64_t generation = 0;
    bool ok = true;
    std::string error;
    bool operator==(const config_ack&) const = default;
};

// worker -> supervisor: serving with config `generation` (sent once, after the first config).
struct ready {
    std::uint64_t generation = 0;
    bool operator==(const ready&) const = default;
};

// worker -> supervisor, periodically: a sign of life for hang detection.
struct heartbeat {
    std::uint64_t seq = 0;
    bool operator==(const heartbeat&) const = default;
};

// supervisor -> worker; answered by status_reply with the same id.
struct status_request {
    std::uint64_t id = 0;
    bool operator==(const status_request&) const = default;
};

struct status_reply {
    std::uint64_t id = 0;
    std::string json;
    bool operator==(const status_reply&) const = default;
};

// worker -> supervisor: one log line for the supervisor's log files.
struct log_record {
    log_level level = log_level::info;
    std::int64_t unix_time_ns = 0;
    std::string tag;
    std::string message;
    bool operator==(const log_record&) const = default;
};

// supervisor -> worker: stop accepting, finish in-flight requests within deadline_ms, exit 0.
struct drain {
    std::uint32_t deadline_ms = 0;
    bool operator==(const drain&) const = default;
};

// supervisor -> worker, with one descriptor: an accepted client connection and the
// bytes already read from it (the first request head, maybe more).
struct handoff {
    std::uint64_t connection_id = 0;
    std::string initial_bytes; // binary
    std::string client_address;
    bool operator==(const handoff&) const = default;
};

// worker -> supervisor, with one descriptor: a kept-alive connection whose next request
// belongs to another profile, with the bytes of that request already read.
struct handoff_back {
    std::uint64_t connection_id = 0;
    std::string initial_bytes;
    std::string client_address;
    bool operator==(const handoff_back&) const = default;
};

// Either direction: "I do not know message type `type`" (the sender is newer than us).
struct unrecognised {
    std::uint16_t type = 0;
    bool operator==(const unrecognised&) const = default;
};

// The worker got a handed-off connection. Until then the supervisor keeps its own copy of
// the descriptor, so a worker that dies with a hand-off in flight loses no connection.
struct handoff_ack {
    std::uint64_t connection_id = 0;
    bool operator==(const handoff_ack&) const = default;
};

// worker -> supervisor, instead of handoff_ack: the worker cannot take this connection (its
// descriptor did not arrive: the worker is at its descriptor limit). The supervisor still
// holds its copy and answers the client itself; the channel and every other connection
// carry on.
struct handoff_refused {
    std::uint64_t connection_id = 0;
    std::string reason; // for the supervisor's log and the client's 503, e.g. "its worker has no free descriptor"
    bool operator==(const handoff_refused&) const = default;
};

// worker -> supervisor, with the heartbeat (at most once a second), as soon as enough
// usage rows wait, and once more when it drains: what happened since the previous report.
// Not droppable: deltas would be lost.
struct worker_report {
    std::string json; // shared/metrics_report.hpp: counter deltas and gauges
    std::string rows; // shared/usage_rows_codec.hpp: finished-request rows for usage.db, binary
    bool operator==(const worker_report&) const = default;
};

using message = std::variant<hello, config_push, config_ack, ready, heartbeat, status_request, status_reply, log_record,
                             drain, handoff, handoff_back, unrecognised, handoff_ack, handoff_refused, worker_report>;

message_type type_of(const message& m);
std::string_view to_string(message_type t);
// True for a wire value this build knows.
bool is_known_type(std::uint16_t type);
// handoff and handoff_back carry exactly one descriptor; every other message none.
bool carries_descriptor(message_type t);

struct encode_result {
    bytes frame;        // header + payload, empty on error
    errc error{};       // field_too_large
    std::string reason; // names the field and its bound
    explicit operator bool() const { return !frame.empty(); }
};

// Encodes `m` as one complete frame. Fails only when a field exceeds its bound.
encode_result encode(const message& m);

struct message_decode_result {
    std::optional<message> value;
    errc error{};       // unknown_message_type (not fatal) or malformed_payload / bad_version
    std::string reason; // names the message, the field and what is wrong
    explicit operator bool() const { return value.has_value(); }
};

// Decodes the payload of a frame of wire type `type`. Never throws; any input is
// acceptable. Trailing bytes after the last field are malformed (versions must match).
message_decode_result decode(std::uint16_t type, byte_view payload);

// A log record for the wire, its message cut to max_log_message_size (on a UTF-8
// boundary, marked "…[truncated]") and its tag to max_name_size, so that logging
// never fails to encode.
log_record to_wire(const clipal::log_record& r);
clipal::log_record from_wire(const log_record& r);

} // namespace clipal::ipc
