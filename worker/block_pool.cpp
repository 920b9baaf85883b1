// The free lists of block_pool (see block_pool.hpp).
#include "worker/block_pool.hpp"

#include <new>

namespace clipal::worker {
namespace {

// Under AddressSanitizer every block goes to the heap and back, so that a use after free
// of a header field is still reported (a recycled block would hide it).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool recycle = false;
#else
constexpr bool recycle = true;
#endif

// The class of a block of `bytes`, or class_count when it is larger than every class.
constexpr std::size_t class_of(std::size_t bytes) {
    if (bytes <= 64) return 0;
    if (bytes <= 128) return 1;
    if (bytes <= 256) return 2;
    if (bytes <= 512) return 3;
    return 4;
}

constexpr std::size_t size_of_class(std::size_t c) { return std::size_t{64} << c; }

} // namespace

boost::asio::execution_context::id block_pool::id;

bool block_pool::recycles() noexcept { return recycle; }

std::size_t block_pool::free_blocks(std::size_t bytes) const noexcept {
    const auto c = class_of(bytes);
    return c < class_count ? free_count_[c] : 0;
}

block_pool::~block_pool() {
    for (auto* head : free_) {
        while (head) {
            auto* next = head->next;
            ::operator delete(head);
            head = next;
        }
    }
}

void* block_pool::allocate(std::size_t bytes) {
    const auto c = class_of(bytes);
    if (!recycle || c >= class_count) return ::operator new(bytes);
    if (auto* n = free_[c]) {
        free_[c] = n->next;
        --free_count_[c];
        return n;
    }
    return ::operator new(size_of_class(c));
}

void block_pool::deallocate(void* p, std::size_t bytes) noexcept {
    const auto c = class_of(bytes);
    if (!recycle || c >= class_count || free_count_[c] >= max_free_per_class) {
        ::operator delete(p);
        return;
    }
    auto* n = static_cast<node*>(p);
    n->next = free_[c];
    free_[c] = n;
    ++free_count_[c];
}

} // namespace clipal::worker
