// The systemd notify protocol, in tree (no libsystemd): readiness, reload and stop
// notifications and watchdog pings as datagrams to $NOTIFY_SOCKET, and the environment
// hygiene that keeps workers from ever talking to systemd themselves.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clipal::supervisor {

// Sends `state` ("READY=1", several assignments separated by '\n') to $NOTIFY_SOCKET.
// Returns false when the variable is unset or the datagram could not be sent; never
// throws, never blocks (the socket is a local datagram socket). Thread-safe.
bool sd_notify_send(std::string_view state);

// The same to an explicit socket: an absolute path, or "@name" for an abstract socket.
bool sd_notify_send_to(std::string_view notify_socket, std::string_view state);

namespace sd_notify {

// Startup finished, or a reload finished: "READY=1".
bool ready();
// A reload started: "RELOADING=1" plus "MONOTONIC_USEC=<CLOCK_MONOTONIC in µs>", which
// Type=notify-reload (systemd >= 253) requires. Send ready() when it is done.
bool reloading();
// Shutdown started: "STOPPING=1".
bool stopping();
// Free-form status line shown by `systemctl status`: "STATUS=<text>" (newlines become spaces).
bool status(std::string_view text);
// Watchdog keep-alive: "WATCHDOG=1". Send it at about half of watchdog_interval().
bool watchdog();

// The watchdog interval systemd expects pings within (WATCHDOG_USEC), if it is meant for
// this process (WATCHDOG_PID unset or equal to our pid); nullopt when disabled or malformed.
std::optional<std::chrono::microseconds> watchdog_interval();

// True for "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", given alone or as "NAME=value".
bool is_notify_variable(std::string_view name_or_entry);

// `env` ("NAME=value" entries) without the notify variables: the environment for a
// child process, so that workers never see NOTIFY_SOCKET.
std::vector<std::string> without_notify_variables(std::vector<std::string> env);

} // namespace sd_notify

} // namespace clipal::supervisor
