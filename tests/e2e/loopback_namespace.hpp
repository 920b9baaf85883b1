// Puts the whole e2e test process (and so every program it starts: fake-upstream, clipal,
// the real CLIs) into a fresh network namespace whose only interface is loopback, so a
// client that tries the internet fails at once instead of reaching it or hanging.
#pragma once

#include <string>

namespace clipal::e2e {

// Must be called while the process is still single-threaded (start of main). Unshares the
// network namespace (root), else a user + network namespace (unprivileged, mapping the
// caller to root inside), then brings `lo` up. Returns an empty string on success, else
// why it was impossible (the tests then skip with that message).
std::string enter_loopback_namespace();

} // namespace clipal::e2e
