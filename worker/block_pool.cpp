// The free lists of block_pool (see block_pool.hpp).
#include "worker/block_pool.hpp"

#include <array>
#include <bit>
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

// The class of a block of `bytes`: 0 for up to 64 bytes, each next one twice as large; past
// the largest class, a number no class has.
constexpr std::size_t class_of(std::size_t bytes) {
    if (bytes > block_pool::largest_class) return std::size_t(-1);
    if (bytes <= 64) return 0;
    return static_cast<std::size_t>(std::bit_width(bytes - 1)) - 6;
}

constexpr std::size_t size_of_class(std::size_t c) { return std::size_t{64} << c; }

// max_free_blocks of each class, worked out once (deallocate runs several times per request).
constexpr auto free_limits = [] {
    std::array<std::size_t, block_pool::class_count> limits{};
    for (std::size_t c = 0; c < limits.size(); ++c) limits[c] = block_pool::max_free_blocks(size_of_class(c));
    return limits;
}();

static_assert(class_of(64) == 0 && class_of(65) == 1 && class_of(512) == 3 && class_of(513) == 4);
static_assert(size_of_class(class_of(block_pool::largest_class)) == block_pool::largest_class);

} // namespace

boost::asio::execution_context::id block_pool::id;

bool block_pool::recycles() noexcept { return recycle; }

std::size_t block_pool::free_blocks(std::size_t bytes) const noexcept {
    const auto c = class_of(bytes);
    return c < class_count ? free_count_[c] : 0;
}

block_pool::~block_pool() { release_free(); }

void block_pool::release_free() noexcept {
    for (std::size_t c = 0; c < class_count; ++c) {
        while (auto* n = free_[c]) {
            free_[c] = n->next;
            ::operator delete(n);
        }
        free_count_[c] = 0;
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
    if (!recycle || c >= class_count || free_count_[c] >= free_limits[c]) {
        ::operator delete(p);
        return;
    }
    auto* n = static_cast<node*>(p);
    n->next = free_[c];
    free_[c] = n;
    ++free_count_[c];
}

} // namespace clipal::worker
