// Keeps the API keys a process holds out of core dumps and away from other processes of
// the same user: on Linux the process becomes non-dumpable (no core file; /proc/<pid>/mem,
// environ, maps and fd, and ptrace, need CAP_SYS_PTRACE), as ssh-agent does; elsewhere
// the core size limit drops to 0. Keys are copied into request buffers, TLS records and the
// allocator's free lists, so no narrower mark (MADV_DONTDUMP) could cover them all.
#pragma once

#if defined(__linux__)
#include <sys/prctl.h>
#elif !defined(_WIN32)
#include <sys/resource.h>
#endif

namespace clipal {

// Call first thing in each process: execve makes a process dumpable again. Neither call
// can fail with these arguments (lowering a limit is always allowed).
inline void keep_memory_private() {
#if defined(__linux__)
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#elif !defined(_WIN32)
    const rlimit none{0, 0};
    ::setrlimit(RLIMIT_CORE, &none);
#endif
}

} // namespace clipal
