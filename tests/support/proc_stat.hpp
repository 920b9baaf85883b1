// What the tests read about other processes from /proc. A process may exit and be reaped
// between the open and the read of its files (the read then fails with ESRCH), so these
// read with plain syscalls and report such a process as absent instead of throwing.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace clipal::test {

// The whole file, or nullopt when it cannot be opened or read.
std::optional<std::string> read_proc_file(const std::string& path);

struct proc_stat {
    char state = 0; // 'R', 'S', 'Z', ...
    int ppid = 0;
};

// /proc/<pid>/stat's state and parent, or nullopt when the process is gone.
std::optional<proc_stat> read_proc_stat(int pid);

// True once the process has exited: no /proc entry, or a zombie (which still answers kill(0)).
bool process_gone(int pid);

// The PIDs of the processes whose parent is `parent`.
std::vector<int> children_of(int parent);

// Entries in /proc/<pid>/fd (0 when the process is gone).
std::size_t open_descriptor_count(int pid);

// VmRSS of /proc/<pid>/status in KiB, -1 when the process is gone.
long resident_kib(int pid);

} // namespace clipal::test
