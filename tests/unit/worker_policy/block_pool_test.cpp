#include "worker/block_pool.hpp"
#include "worker/http_types.hpp"

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

using clipal::worker::block_pool;
using clipal::worker::pool_allocator;

#if !defined(__SANITIZE_ADDRESS__) // under ASan the pool hands every block to the heap
TEST(BlockPool, AFreedBlockIsHandedOutAgainForTheSameClass) {
    boost::asio::io_context ioc;
    auto& pool = boost::asio::use_service<block_pool>(ioc);
    void* a = pool.allocate(70); // the 128-byte class
    pool.deallocate(a, 70);
    EXPECT_EQ(pool.allocate(100), a) << "same class";
    void* b = pool.allocate(40);
    EXPECT_NE(b, a);
    pool.deallocate(b, 40);
    EXPECT_NE(pool.allocate(200), b) << "another class does not get it";
}

TEST(BlockPool, KeepsABoundedNumberOfFreeBlocks) {
    boost::asio::io_context ioc;
    auto& pool = boost::asio::use_service<block_pool>(ioc);
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < block_pool::max_free_per_class + 10; ++i) blocks.push_back(pool.allocate(64));
    for (void* p : blocks) pool.deallocate(p, 64);
    // The first max_free_per_class come back (in any order); the rest went to the heap.
    std::set<void*> given(blocks.begin(), blocks.end());
    std::size_t recycled = 0;
    for (std::size_t i = 0; i < block_pool::max_free_per_class + 10; ++i) recycled += given.count(pool.allocate(64));
    EXPECT_GE(recycled, block_pool::max_free_per_class);
}

#endif

TEST(BlockPool, LargeBlocksAndAPoollessAllocatorUseTheHeap) {
    boost::asio::io_context ioc;
    auto& pool = boost::asio::use_service<block_pool>(ioc);
    void* big = pool.allocate(block_pool::largest_class + 1);
    std::memset(big, 0xab, block_pool::largest_class + 1); // ASan: the whole size is ours
    pool.deallocate(big, block_pool::largest_class + 1);

    pool_allocator<int> heap;
    int* p = heap.allocate(3);
    p[2] = 7;
    heap.deallocate(p, 3);
    EXPECT_EQ(heap, pool_allocator<char>());
    EXPECT_FALSE(heap == pool_allocator<int>(&pool));
}

TEST(BlockPool, HeaderFieldsLiveInThePoolAndOutliveNothing) {
    // What the worker does: a message's fields in the io_context's pool; the pool goes with
    // the io_context, after the message.
    boost::asio::io_context ioc;
    clipal::worker::http_fields f(clipal::worker::field_allocator(&boost::asio::use_service<block_pool>(ioc)));
    for (int i = 0; i < 100; ++i) f.insert("x-header-" + std::to_string(i), std::string(i, 'v'));
    f.erase("x-header-5");
    EXPECT_EQ(std::distance(f.begin(), f.end()), 99);
    EXPECT_EQ(f["x-header-99"], std::string(99, 'v'));
}
