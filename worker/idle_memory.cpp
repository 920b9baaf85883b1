#include "worker/idle_memory.hpp"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace clipal::worker {
namespace {

void release_free_heap() {
#ifdef __GLIBC__
    // Returns free pages from the middle of every arena too (madvise), not only the top.
    ::malloc_trim(0);
#endif
}

} // namespace

void idle_memory::note_activity() {
    ++activity_;
    if (!armed_) arm();
}

void idle_memory::arm() {
    armed_ = true;
    seen_ = activity_;
    timer_.expires_after(quiet_period);
    timer_.async_wait([this](boost::system::error_code ec) {
        if (ec) return; // cancelled: the worker is going away
        // Busy during the wait: wait again rather than trim under load.
        if (activity_ != seen_) {
            arm();
            return;
        }
        armed_ = false;
        blocks_.release_free();
        release_free_heap();
    });
}

} // namespace clipal::worker
