// Boost.Process v2 initializers (launcher hooks) shared by clipal's two launchers: the
// supervisor's worker launcher (supervisor/worker_process.cpp) and run_subprocess
// (app/subprocess.cpp). v2's posix::default_launcher calls on_setup in the parent before
// fork, on_exec_setup in the child between fork and exec (async-signal-safe calls only
// there), in the order the initializers are given, then closes descriptors and execs.
//
// What Boost 1.81's launcher gets wrong, and what these hooks do about it (checked against
// the installed headers, /usr/include/boost/process/v2):
// - posix/detail/close_handles.ipp, Linux branch: `next = whitelist[idx]` compares each kept
//   descriptor with itself, so nothing between two kept descriptors is closed; the launcher
//   keeps its own exec-error pipe, opened last, so in practice every descriptor the parent
//   had open stayed open in the child (fixed upstream in 2024, boostorg/process#360).
//   close_other_descriptors closes them first, with platform::close_descriptors_from.
// - When exec fails the child calls ::exit(), which runs the parent's atexit handlers and
//   static destructors in the child. exit_quietly_on_exec_error _exits first. (1.81 looks for
//   an on_exec_error hook with a 5-argument signature and calls it with 4 arguments, so the
//   hook declares both.)
// - posix::bind_fd::on_setup falls off its end without returning a value (undefined
//   behaviour; UBSan stops the process there), and dup2(fd, fd) leaves close-on-exec set when
//   the descriptor already has the target number. channel_on_fd derives from bind_fd and
//   replaces both members.
// - default_launcher's (context, error_code&, ...) overload drops the error_code and throws;
//   callers use the (executor, error_code&, ...) overload.
#pragma once

#include "platform/boost_process_v2.hpp"
#include "platform/cloexec.hpp"
#include "platform/close_descriptors.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

namespace clipal::platform {

namespace bp2 = boost::process::v2;

// Puts `fd` on descriptor `target` in the child, without close-on-exec.
struct channel_on_fd : bp2::posix::bind_fd {
    channel_on_fd(int target_fd, int source_fd) : bind_fd(target_fd, source_fd) {}

    bp2::error_code on_setup(bp2::posix::default_launcher& launcher, const bp2::filesystem::path&, const char* const*) {
        launcher.fd_whitelist.push_back(target);
        return {};
    }

    bp2::error_code on_exec_setup(bp2::posix::default_launcher&, const bp2::filesystem::path&, const char* const*) {
        const bool ok = fd != target ? ::dup2(fd, target) == target : set_cloexec(fd, false);
        return ok ? bp2::error_code{} : bp2::error_code(errno, bp2::system_category());
    }
};

// Closes every descriptor from 3 up that the launcher does not keep (its whitelist: the
// standard descriptors, what channel_on_fd binds, its exec-error pipe). Give it after every
// hook that dup2s (it reads the whitelist as it is in the child).
struct close_other_descriptors {
    bp2::error_code on_exec_setup(bp2::posix::default_launcher& launcher, const bp2::filesystem::path&,
                                  const char* const*) {
        const auto& keep = launcher.fd_whitelist;
        close_descriptors_from(STDERR_FILENO + 1, keep.data(), keep.size());
        return {};
    }
};

// Signals blocked or ignored in the parent stay so across exec; the new program starts with
// none blocked.
struct unblock_signals {
    bp2::error_code on_exec_setup(bp2::posix::default_launcher&, const bp2::filesystem::path&, const char* const*) {
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        return {};
    }
};

// When exec (or an earlier hook) failed, the launcher has already told the parent (errno on
// its pipe); the child ends here with `code` and runs nothing of the parent's.
struct exit_quietly_on_exec_error {
    int code;

    // Never called: 1.81 detects the hook by this signature...
    void on_exec_error(bp2::posix::default_launcher&, const bp2::error_code&, const bp2::filesystem::path&,
                       const char* const*&, const bp2::error_code&);
    // ...and calls this one.
    void on_exec_error(bp2::posix::default_launcher&, const bp2::filesystem::path&, const char* const*&,
                       const bp2::error_code&) {
        ::_exit(code);
    }
};

} // namespace clipal::platform
