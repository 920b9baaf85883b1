// Gives the heap's free memory back to the kernel once a worker has been quiet for a moment
// (the block_pool's free blocks included).
// A burst of connections leaves tens of MiB of freed but resident heap (fragmented, so the
// allocator's own top-of-heap trimming cannot return it); without this the worker would
// keep its peak for the rest of its life. Nothing runs per request: a connection's end
// only counts, and the timer is armed at most once per quiet period.
#pragma once

#include "worker/asio_types.hpp"
#include "worker/block_pool.hpp"
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>

namespace clipal::worker {

class idle_memory {
public:
    // How long nothing may happen before the free memory is given back.
    static constexpr std::chrono::seconds quiet_period{2};

    explicit idle_memory(boost::asio::io_context& ioc)
        : timer_(ioc), blocks_(boost::asio::use_service<block_pool>(ioc)) {}

    // Something that frees memory happened (a connection ended). Single-threaded.
    void note_activity();

private:
    void arm();

    steady_timer timer_;
    block_pool& blocks_; // its free blocks go back first, so that the trim can return them too
    std::uint64_t activity_ = 0;
    std::uint64_t seen_ = 0; // activity_ when the timer was armed
    bool armed_ = false;
};

} // namespace clipal::worker
