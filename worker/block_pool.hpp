// Recycled memory for what the data path makes and drops with every request — each
// message's header block (worker/header_block.hpp), a timer wait's operation, an attempt's
// read and relay buffers, the forwarder and the attempt themselves: a freed block goes on a
// free list of its size class and is handed out again, so a steady stream of requests costs
// no malloc for them (nginx gets the same from its per-request pools). Single-threaded, like
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

    // Bounds what a busy worker keeps: per class at most 512 free blocks and at most 256 KiB
    // of them (16 of the largest), under 2 MiB in all. An idle worker gives them all back
    // (release_free).
    static constexpr std::size_t max_free_blocks(std::size_t bytes) noexcept {
        const std::size_t by_bytes = (256 * 1024) / class_size(bytes);
        return by_bytes < 512 ? by_bytes : 512;
    }
    // False when built with AddressSanitizer: then every block goes to the heap and back.
    static bool recycles() noexcept;
    // Free blocks kept now in the class that serves `bytes` (0 for blocks over the largest).
    std::size_t free_blocks(std::size_t bytes) const noexcept;
    // Gives every free block back to the heap (idle_memory, once the worker is quiet).
    void release_free() noexcept;
    // Classes of 64 bytes to 16 KiB (an attempt's read buffer), each twice the one before.
    static constexpr std::size_t class_count = 9;
    static constexpr std::size_t largest_class = 16 * 1024;
    static constexpr std::size_t class_size(std::size_t bytes) noexcept {
        std::size_t size = 64;
        while (size < bytes) size *= 2;
        return size;
    }

private:
    void shutdown() override {}

    struct node {
        node* next;
    };
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

// Bytes from a block_pool, given back when replaced, reset or destroyed.
class pool_bytes {
public:
    explicit pool_bytes(block_pool& pool) noexcept : pool_(&pool) {}
    ~pool_bytes() { reset(); }
    pool_bytes(const pool_bytes&) = delete;
    pool_bytes& operator=(const pool_bytes&) = delete;

    // Replaces what it holds with `n` uninitialised bytes.
    char* allocate(std::size_t n) {
        reset();
        data_ = static_cast<char*>(pool_->allocate(n));
        size_ = n;
        return data_;
    }
    void reset() noexcept {
        if (data_) pool_->deallocate(data_, size_);
        data_ = nullptr;
        size_ = 0;
    }
    char* get() const noexcept { return data_; }
    std::size_t size() const noexcept { return size_; }

private:
    block_pool* pool_;
    char* data_ = nullptr;
    std::size_t size_ = 0;
};

} // namespace clipal::worker
