// Recycled memory for what the data path makes and drops with every request — each
// message's header block (worker/header_block.hpp), a timer wait's operation: a freed block goes on a free list
// of its size class and is handed out again, so a steady stream of requests costs no
// malloc for them (nginx gets the same from its per-request pools). Single-threaded, like
// the worker's loop. One per io_context, as an Asio service: the io_context destroys its
// pending handlers (and the sessions and messages they hold) before its services, so no
// block outlives its pool.
#pragma once

#include <boost/asio/execution_context.hpp>

#include <array>
#include <cstddef>
#include <memory>

namespace clipal::worker {

class block_pool : public boost::asio::execution_context::service {
public:
    static boost::asio::execution_context::id id;

    explicit block_pool(boost::asio::execution_context& ctx) : service(ctx) {}
    ~block_pool() override;
    block_pool(const block_pool&) = delete;
    block_pool& operator=(const block_pool&) = delete;

    // Blocks over the largest class come from operator new and go back to it.
    void* allocate(std::size_t bytes);
    void deallocate(void* p, std::size_t bytes) noexcept;

    // Bounds what an idle worker keeps: at most this many free blocks per class.
    static constexpr std::size_t max_free_per_class = 512;
    // False when built with AddressSanitizer: then every block goes to the heap and back.
    static bool recycles() noexcept;
    // Free blocks kept now in the class that serves `bytes` (0 for blocks over the largest).
    std::size_t free_blocks(std::size_t bytes) const noexcept;
    static constexpr std::size_t largest_class = 512;

private:
    void shutdown() override {}

    struct node {
        node* next;
    };
    static constexpr std::size_t class_count = 4; // 64, 128, 256, 512 bytes
    std::array<node*, class_count> free_{};
    std::array<std::size_t, class_count> free_count_{};
};

// A standard allocator over a block_pool; without one (default-constructed: tests, tools)
// it is operator new and delete.
template <class T>
class pool_allocator {
public:
    using value_type = T;

    pool_allocator() noexcept = default;
    explicit pool_allocator(block_pool* pool) noexcept : pool_(pool) {}
    template <class U>
    pool_allocator(const pool_allocator<U>& other) noexcept : pool_(other.pool()) {}

    T* allocate(std::size_t n) {
        const auto bytes = n * sizeof(T);
        return static_cast<T*>(pool_ ? pool_->allocate(bytes) : ::operator new(bytes));
    }
    void deallocate(T* p, std::size_t n) noexcept {
        if (pool_)
            pool_->deallocate(p, n * sizeof(T));
        else
            ::operator delete(p);
    }

    block_pool* pool() const noexcept { return pool_; }

    template <class U>
    bool operator==(const pool_allocator<U>& other) const noexcept {
        return pool_ == other.pool();
    }

private:
    block_pool* pool_ = nullptr;
};

} // namespace clipal::worker
