// A file with no name, for the supervisor's upgrade state (supervisor/upgrade_state.cpp):
// written, rewound, and handed to the re-executed image as a descriptor. Linux: memfd_create;
// portable: mkstemp in $TMPDIR (else /tmp) and unlinked at once.
#pragma once

#include <string>

namespace clipal::platform {

// A new, empty, readable and writable anonymous file, close-on-exec. The descriptor, or -1
// with `error` naming what failed.
int anonymous_file(const char* name, std::string& error);

} // namespace clipal::platform
