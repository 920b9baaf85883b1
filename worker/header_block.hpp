// The header fields of one message on the data path, flat: every name and value copied side
// by side into one buffer, each field with Beast's code for its name, in the order received.
//
// Beast's own container (basic_fields) keeps a field as a node of a list and of a
// case-insensitive tree: an allocation and a tree insert per field, and a tree search per
// lookup. The data path only walks the fields in order and picks a few by code, so one
// buffer and one array do the same with two allocations per message, from the worker's
// block_pool. Repeated names keep the client's order among all fields (Beast grouped them).
#pragma once

#include "worker/block_pool.hpp"

#include <boost/beast/http/field.hpp>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>
#include <vector>

namespace clipal::worker {

class header_block {
    struct entry {
        std::uint32_t at;       // the name's first byte in text_; the value follows the name
        std::uint32_t name_len; // both bounded by the head limits (64 KiB)
        std::uint32_t value_len;
        boost::beast::http::field code;
    };

public:
    // One field, as views into the block (valid until the block changes).
    class field_ref {
    public:
        field_ref(boost::beast::http::field code, std::string_view name, std::string_view value) noexcept
            : code_(code), name_(name), value_(value) {}
        boost::beast::http::field name() const noexcept { return code_; }
        std::string_view name_string() const noexcept { return name_; }
        std::string_view value() const noexcept { return value_; }

    private:
        boost::beast::http::field code_;
        std::string_view name_;
        std::string_view value_;
    };

    class iterator {
    public:
        using iterator_category = std::forward_iterator_tag;
        using value_type = field_ref;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = field_ref;

        iterator() = default;
        iterator(const header_block* b, std::size_t i) noexcept : block_(b), i_(i) {}
        field_ref operator*() const noexcept { return block_->at(i_); }
        iterator& operator++() noexcept {
            ++i_;
            return *this;
        }
        iterator operator++(int) noexcept {
            auto old = *this;
            ++i_;
            return old;
        }
        bool operator==(const iterator& o) const noexcept { return i_ == o.i_; }

    private:
        const header_block* block_ = nullptr;
        std::size_t i_ = 0;
    };

    // Without a pool (tests, tools) the storage is operator new's.
    explicit header_block(block_pool* pool = nullptr) noexcept;
    ~header_block();
    header_block(header_block&& other) noexcept;
    header_block& operator=(header_block&& other) noexcept;
    header_block(const header_block&) = delete;
    header_block& operator=(const header_block&) = delete;

    // Appends a field; `code` must be Beast's code for `name` (field::unknown when it has none).
    void insert(boost::beast::http::field code, std::string_view name, std::string_view value);
    // Appends a field, its code looked up from its name.
    void insert(std::string_view name, std::string_view value);
    // Appends a field with a code, under Beast's spelling of its name.
    void insert(boost::beast::http::field code, std::string_view value);
    // Removes every field of that name (any case), then appends one.
    void set(std::string_view name, std::string_view value);
    void set(boost::beast::http::field code, std::string_view value);
    void erase(std::string_view name);

    // The value of the first field with this code; empty when there is none.
    std::string_view operator[](boost::beast::http::field code) const noexcept;
    // The value of the first field of this name (any case); empty when there is none.
    std::string_view operator[](std::string_view name) const noexcept;
    std::size_t count(boost::beast::http::field code) const noexcept;
    std::size_t count(std::string_view name) const noexcept;

    iterator begin() const noexcept { return {this, 0}; }
    iterator end() const noexcept { return {this, entries_.size()}; }
    std::size_t size() const noexcept { return entries_.size(); }
    // Bytes of names and values held (what a serialized head needs besides ": " and CRLF).
    std::size_t text_size() const noexcept { return text_size_; }

protected:
    // Other text of the head (request target, method, reason phrase) kept in the same buffer.
    struct text_span {
        std::uint32_t at = 0;
        std::uint32_t len = 0;
    };
    text_span keep(std::string_view s);
    std::string_view view(text_span s) const noexcept { return {text_ + s.at, s.len}; }

private:
    field_ref at(std::size_t i) const noexcept {
        const auto& e = entries_[i];
        return {e.code, {text_ + e.at, e.name_len}, {text_ + e.at + e.name_len, e.value_len}};
    }
    std::string_view value_at(const entry& e) const noexcept { return {text_ + e.at + e.name_len, e.value_len}; }
    bool named(const entry& e, boost::beast::http::field code, std::string_view name) const noexcept;
    // Room for `n` more bytes of text (std::vector<char> would zero-fill on resize and copy
    // byte by byte on a ranged insert).
    char* append_room(std::size_t n);
    void free_text() noexcept;

    std::vector<entry, pool_allocator<entry>> entries_;
    pool_allocator<char> text_alloc_;
    char* text_ = nullptr;
    std::size_t text_size_ = 0;
    std::size_t text_capacity_ = 0;
};

} // namespace clipal::worker
