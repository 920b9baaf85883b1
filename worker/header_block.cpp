#include "worker/header_block.hpp"

#include <boost/beast/core/string.hpp>

#include <algorithm>
#include <cstring>
#include <utility>

namespace clipal::worker {
namespace {

namespace http = boost::beast::http;

// First sizes: a usual head (a few fields, under ~200 bytes of text) fits without growing;
// both come from the pool's recycled size classes.
constexpr std::size_t first_entries = 8;
constexpr std::size_t first_text = 256;

} // namespace

header_block::header_block(block_pool* pool) noexcept : entries_(pool_allocator<entry>(pool)), text_alloc_(pool) {}

header_block::~header_block() { free_text(); }

header_block::header_block(header_block&& other) noexcept
    : entries_(std::move(other.entries_)),
      text_alloc_(other.text_alloc_),
      text_(std::exchange(other.text_, nullptr)),
      text_size_(std::exchange(other.text_size_, 0)),
      text_capacity_(std::exchange(other.text_capacity_, 0)) {}

header_block& header_block::operator=(header_block&& other) noexcept {
    if (this == &other) return *this;
    free_text();
    entries_ = std::move(other.entries_);
    text_alloc_ = other.text_alloc_;
    text_ = std::exchange(other.text_, nullptr);
    text_size_ = std::exchange(other.text_size_, 0);
    text_capacity_ = std::exchange(other.text_capacity_, 0);
    return *this;
}

void header_block::free_text() noexcept {
    if (text_) text_alloc_.deallocate(text_, text_capacity_);
    text_ = nullptr;
    text_size_ = text_capacity_ = 0;
}

char* header_block::append_room(std::size_t n) {
    if (text_capacity_ - text_size_ < n) {
        const auto capacity = std::max({first_text, text_capacity_ * 2, text_size_ + n});
        char* grown = text_alloc_.allocate(capacity);
        if (text_size_ > 0) std::memcpy(grown, text_, text_size_);
        if (text_) text_alloc_.deallocate(text_, text_capacity_);
        text_ = grown;
        text_capacity_ = capacity;
    }
    char* at = text_ + text_size_;
    text_size_ += n;
    return at;
}

header_block::text_span header_block::keep(std::string_view s) {
    const auto at = static_cast<std::uint32_t>(text_size_);
    if (!s.empty()) std::memcpy(append_room(s.size()), s.data(), s.size());
    return {at, static_cast<std::uint32_t>(s.size())};
}

void header_block::insert(http::field code, std::string_view name, std::string_view value) {
    if (entries_.capacity() == 0) entries_.reserve(first_entries);
    const auto at = static_cast<std::uint32_t>(text_size_);
    char* out = append_room(name.size() + value.size());
    if (!name.empty()) std::memcpy(out, name.data(), name.size());
    if (!value.empty()) std::memcpy(out + name.size(), value.data(), value.size());
    entries_.push_back({at, static_cast<std::uint32_t>(name.size()), static_cast<std::uint32_t>(value.size()), code});
}

void header_block::insert(std::string_view name, std::string_view value) {
    insert(http::string_to_field(name), name, value);
}

void header_block::insert(http::field code, std::string_view value) { insert(code, http::to_string(code), value); }

bool header_block::named(const entry& e, http::field code, std::string_view name) const noexcept {
    if (code != http::field::unknown) return e.code == code;
    return e.code == http::field::unknown && boost::beast::iequals(std::string_view(text_ + e.at, e.name_len), name);
}

void header_block::erase(std::string_view name) {
    const auto code = http::string_to_field(name);
    // The erased fields' text stays in the buffer: erasing is for tests and rare.
    std::erase_if(entries_, [&](const entry& e) { return named(e, code, name); });
}

void header_block::set(std::string_view name, std::string_view value) {
    erase(name);
    insert(name, value);
}

void header_block::set(http::field code, std::string_view value) {
    erase(http::to_string(code));
    insert(code, value);
}

std::string_view header_block::operator[](http::field code) const noexcept {
    for (const auto& e : entries_)
        if (e.code == code) return value_at(e);
    return {};
}

std::string_view header_block::operator[](std::string_view name) const noexcept {
    const auto code = http::string_to_field(name);
    for (const auto& e : entries_)
        if (named(e, code, name)) return value_at(e);
    return {};
}

std::size_t header_block::count(http::field code) const noexcept {
    return static_cast<std::size_t>(
        std::count_if(entries_.begin(), entries_.end(), [code](const entry& e) { return e.code == code; }));
}

std::size_t header_block::count(std::string_view name) const noexcept {
    const auto code = http::string_to_field(name);
    return static_cast<std::size_t>(
        std::count_if(entries_.begin(), entries_.end(), [&](const entry& e) { return named(e, code, name); }));
}

} // namespace clipal::worker
