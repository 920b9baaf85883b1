#include "worker/block_pool.hpp"
#include "worker/header_block.hpp"

#include <boost/asio/io_context.hpp>

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

using clipal::worker::block_pool;
using clipal::worker::pool_allocator;

TEST(BlockPool, AFreedBlockIsHandedOutAgainForTheSameClass) {
    if (!block_pool::recycles()) GTEST_SKIP() << "built with AddressSanitizer: every block goes to the heap";
    boost::asio::io_context ioc;
    auto& pool = boost::asio::use_service<block_pool>(ioc);
    void* a = pool.allocate(70); // the 128-byte class
    pool.deallocate(a, 70);
    EXPECT_EQ(pool.free_blocks(70), 1u);
    void* again = pool.allocate(100);
    EXPECT_EQ(again, a) << "same class";
    EXPECT_EQ(pool.free_blocks(70), 0u);
    void* b = pool.allocate(40);
    pool.deallocate(b, 40);
    void* other = pool.allocate(200);
    EXPECT_NE(other, b) << "another class does not get it";
    EXPECT_EQ(pool.free_blocks(40), 1u);
    pool.deallocate(again, 100);
    pool.deallocate(other, 200);
}

TEST(BlockPool, KeepsABoundedNumberOfFreeBlocks) {
    if (!block_pool::recycles()) GTEST_SKIP() << "built with AddressSanitizer: every block goes to the heap";
    boost::asio::io_context ioc;
    auto& pool = boost::asio::use_service<block_pool>(ioc);
    EXPECT_EQ(block_pool::max_free_blocks(64), 512u);
    EXPECT_EQ(block_pool::max_free_blocks(block_pool::largest_class), 16u) << "256 KiB of the largest";
    for (std::size_t size : {std::size_t{64}, std::size_t{5000}, block_pool::largest_class}) {
        std::vector<void*> blocks;
        for (std::size_t i = 0; i < block_pool::max_free_blocks(size) + 10; ++i) blocks.push_back(pool.allocate(size));
        for (void* p : blocks) pool.deallocate(p, size);
        EXPECT_EQ(pool.free_blocks(size), block_pool::max_free_blocks(size)) << size << ": the rest went to the heap";
    }
    EXPECT_EQ(pool.free_blocks(block_pool::largest_class + 1), 0u);
    pool.release_free();
    for (std::size_t size = 64; size <= block_pool::largest_class; size *= 2) EXPECT_EQ(pool.free_blocks(size), 0u);
}

TEST(BlockPool, ClassesDoubleFrom64BytesTo16KiB) {
    EXPECT_EQ(block_pool::class_size(1), 64u);
    EXPECT_EQ(block_pool::class_size(64), 64u);
    EXPECT_EQ(block_pool::class_size(65), 128u);
    EXPECT_EQ(block_pool::class_size(4097), 8192u);
    EXPECT_EQ(block_pool::class_size(block_pool::largest_class), 16384u);
    if (!block_pool::recycles()) GTEST_SKIP() << "built with AddressSanitizer: every block goes to the heap";
    boost::asio::io_context ioc;
    auto& pool = boost::asio::use_service<block_pool>(ioc);
    void* a = pool.allocate(9000);
    std::memset(a, 1, 16384); // the whole class is the block's
    pool.deallocate(a, 9000);
    EXPECT_EQ(pool.allocate(16384), a) << "one class from 8 KiB + 1 to 16 KiB";
    pool.deallocate(a, 16384);
}

TEST(BlockPool, PoolBytesGoBackWhenReplacedOrDestroyed) {
    if (!block_pool::recycles()) GTEST_SKIP() << "built with AddressSanitizer: every block goes to the heap";
    boost::asio::io_context ioc;
    auto& pool = boost::asio::use_service<block_pool>(ioc);
    {
        clipal::worker::pool_bytes b(pool);
        EXPECT_EQ(b.get(), nullptr);
        char* first = b.allocate(300);
        std::memset(first, 2, 300);
        b.allocate(20000); // over the largest class: the heap's
        EXPECT_EQ(pool.free_blocks(300), 1u) << "the first went back";
        EXPECT_EQ(b.size(), 20000u);
        b.allocate(16000);
    }
    EXPECT_EQ(pool.free_blocks(16000), 1u);
}

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

TEST(BlockPool, HeaderBlocksLiveInThePoolAndOutliveNothing) {
    // What the worker does: a message's header block in the io_context's pool; the pool goes
    // with the io_context, after the message.
    boost::asio::io_context ioc;
    auto& pool = boost::asio::use_service<block_pool>(ioc);
    clipal::worker::header_block f(&pool);
    for (int i = 0; i < 100; ++i) f.insert("x-header-" + std::to_string(i), std::string(i, 'v'));
    f.erase("x-header-5");
    EXPECT_EQ(std::distance(f.begin(), f.end()), 99);
    EXPECT_EQ(f["x-header-99"], std::string(99, 'v'));
}
