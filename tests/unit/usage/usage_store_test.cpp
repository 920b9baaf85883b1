#include "supervisor/usage_store.hpp"
#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <limits>
#include <thread>

using clipal::usage_record;
using clipal::supervisor::usage_grouping;
using clipal::supervisor::usage_reader;
using clipal::supervisor::usage_store;
using clipal::supervisor::usage_totals;
using ::testing::HasSubstr;

namespace {

constexpr std::int64_t day_ms = 86'400'000;
constexpr std::int64_t t0 = 1'750'000'000'000; // some time in 2025

// A second, plain SQLite connection: how another program (or a test) sees the file.
class raw_db {
public:
    explicit raw_db(const std::filesystem::path& p, int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
        if (::sqlite3_open_v2(p.c_str(), &db_, flags, nullptr) != SQLITE_OK) ADD_FAILURE() << "cannot open " << p;
    }
    ~raw_db() { ::sqlite3_close_v2(db_); }
    raw_db(const raw_db&) = delete;
    raw_db& operator=(const raw_db&) = delete;

    int exec(const std::string& sql) { return ::sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr); }
    std::string text(const std::string& sql) {
        sqlite3_stmt* s = nullptr;
        std::string out = "<error>";
        if (::sqlite3_prepare_v2(db_, sql.c_str(), -1, &s, nullptr) == SQLITE_OK && ::sqlite3_step(s) == SQLITE_ROW)
            out = reinterpret_cast<const char*>(::sqlite3_column_text(s, 0));
        ::sqlite3_finalize(s);
        return out;
    }

private:
    sqlite3* db_ = nullptr;
};

usage_record row(std::int64_t time_ms, std::string provider = "primary", std::string model = "model-a",
                 int status = 200) {
    usage_record r;
    r.time_ms = time_ms;
    r.profile = "claude-code";
    r.provider = std::move(provider);
    r.key_fingerprint = "sk-…abcd";
    r.model = std::move(model);
    r.status = status;
    r.attempts = 1;
    r.ttfb_ms = 120;
    r.duration_ms = 900;
    r.input_tokens = 100;
    r.output_tokens = 20;
    r.cache_read_tokens = 1000;
    r.cache_write_tokens = 5;
    return r;
}

std::unique_ptr<usage_store> open_store(const std::filesystem::path& p,
                                        std::size_t max_pending = usage_store::default_max_pending) {
    auto r = usage_store::open(p, max_pending);
    EXPECT_TRUE(r.store) << r.error;
    return std::move(r.store);
}

std::vector<usage_record> read_all(const std::filesystem::path& p) {
    auto r = usage_reader::open(p);
    EXPECT_TRUE(r.reader) << r.error;
    if (!r.reader) return {};
    std::string error;
    auto rows = r.reader->records(0, error);
    EXPECT_TRUE(rows) << error;
    return rows ? *rows : std::vector<usage_record>{};
}

unsigned mode_of(const std::filesystem::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 0777;
}

} // namespace

TEST(UsageStore, CreatesAnOwnerOnlyWalDatabaseAtTheNewestSchema) {
    clipal::test::temp_dir dir;
    const auto p = clipal::supervisor::usage_db_path(dir.path());
    EXPECT_EQ(p, dir.path() / "usage.db");
    auto store = open_store(p);
    ASSERT_TRUE(store);
    EXPECT_EQ(store->path(), p);
    EXPECT_EQ(mode_of(p), 0600u);
    store->add(row(t0));
    ASSERT_TRUE(store->flush().ok());
    EXPECT_EQ(mode_of(dir.path() / "usage.db-wal"), 0600u); // SQLite copies the database's mode
    raw_db raw(p);
    EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
    EXPECT_EQ(raw.text("PRAGMA user_version"), std::to_string(clipal::supervisor::usage_schema_version));
    EXPECT_EQ(raw.text("SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master ORDER BY name)"),
              "requests,requests_by_time");
}

TEST(UsageStore, MigratesAnEmptyDatabaseAndTightensItsMode) {
    clipal::test::temp_dir dir;
    const auto p = dir.path() / "usage.db";
    {
        raw_db raw(p); // an empty database another program made: version 0, one unrelated table
        ASSERT_EQ(raw.exec("CREATE TABLE notes (x TEXT)"), SQLITE_OK);
    }
    ::chmod(p.c_str(), 0644);
    auto store = open_store(p);
    ASSERT_TRUE(store);
    EXPECT_EQ(mode_of(p), 0600u);
    raw_db raw(p);
    EXPECT_EQ(raw.text("PRAGMA user_version"), "1");
    EXPECT_EQ(raw.text("SELECT count(*) FROM requests"), "0");
    EXPECT_EQ(raw.text("SELECT count(*) FROM notes"), "0");
}

TEST(UsageStore, AnEmptyFileIsANewDatabase) {
    clipal::test::temp_dir dir;
    const auto p = dir.write("usage.db", "");
    EXPECT_TRUE(usage_reader::open(p).no_data);
    ASSERT_TRUE(open_store(p));
    EXPECT_TRUE(read_all(p).empty());
}

TEST(UsageStore, AddBuffersAndFlushWritesEveryFieldBack) {
    clipal::test::temp_dir dir;
    const auto p = dir.path() / "usage.db";
    auto store = open_store(p);
    ASSERT_TRUE(store);
    EXPECT_TRUE(store->flush().ok()); // nothing pending is fine
    std::vector<usage_record> rows{row(t0), row(t0 + 1, "backup", "", 0)};
    auto unknown = row(t0 + 2, "primary", "model-b", 503);
    unknown.ttfb_ms.reset();
    unknown.input_tokens.reset();
    unknown.output_tokens.reset();
    unknown.cache_read_tokens.reset();
    unknown.cache_write_tokens.reset();
    unknown.attempts = 6;
    rows.push_back(unknown);
    auto big = row(t0 + 3, "päivä", "模型");
    big.input_tokens = std::uint64_t{1} << 40;
    big.ttfb_ms = 0;
    big.duration_ms = 4'000'000'000u;
    rows.push_back(big);

    EXPECT_EQ(store->add(rows[0]), 1u);
    EXPECT_EQ(store->add(rows[1]), 2u);
    store->add(rows[2]);
    store->add(rows[3]);
    EXPECT_TRUE(read_all(p).empty()) << "add() only buffers";
    const auto r = store->flush();
    EXPECT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.rows, 4u);
    EXPECT_FALSE(r.report);
    EXPECT_FALSE(r.recovered);
    EXPECT_EQ(store->pending(), 0u);
    EXPECT_EQ(read_all(p), rows);

    // Reopened, the rows are still there and new ones follow them.
    store.reset();
    store = open_store(p);
    ASSERT_TRUE(store);
    store->add(row(t0 + 4));
    EXPECT_EQ(store->flush().rows, 1u);
    EXPECT_EQ(read_all(p).size(), 5u);
}

// A flush writes whole statements of insert_batch_rows rows and then the rest one by one;
// both write every field, NULLs included, in the order the rows came.
TEST(UsageStore, BatchedAndSingleInsertsWriteTheSameRows) {
    clipal::test::temp_dir dir;
    const auto p = dir.path() / "usage.db";
    auto store = open_store(p);
    ASSERT_TRUE(store);
    constexpr std::size_t n = usage_store::insert_batch_rows * 2 + 5;
    std::vector<usage_record> rows;
    for (std::size_t i = 0; i < n; ++i) {
        auto r = row(t0 + static_cast<std::int64_t>(i), "provider-" + std::to_string(i % 3),
                     i % 4 ? "model-" + std::to_string(i) : "", static_cast<int>(100 + i));
        r.profile = i % 2 ? "codex" : "gemini";
        r.key_fingerprint = "sk-…" + std::to_string(i);
        r.attempts = static_cast<std::uint32_t>(i);
        if (i % 2) r.ttfb_ms.reset();
        if (i % 3) r.input_tokens.reset();
        if (i % 5) r.output_tokens = i;
        if (i % 7) r.cache_read_tokens.reset();
        if (i == n - 1) r.cache_write_tokens = std::numeric_limits<std::uint64_t>::max() >> 1;
        rows.push_back(r);
        EXPECT_EQ(store->add(r), i + 1);
    }
    const auto r = store->flush();
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.rows, n);
    EXPECT_EQ(read_all(p), rows);
    // The buffer starts empty again: the next flush writes only what came since.
    store->add(rows[0]);
    EXPECT_EQ(store->flush().rows, 1u);
    const auto all = read_all(p);
    ASSERT_EQ(all.size(), n + 1);
    EXPECT_EQ(all.back(), rows[0]);
}

TEST(UsageStore, OverlongTextIsCutAtACharacterBoundary) {
    clipal::test::temp_dir dir;
    const auto p = dir.path() / "usage.db";
    auto store = open_store(p);
    ASSERT_TRUE(store);
    std::string model;
    while (model.size() < 2000) model += "é"; // two bytes each
    store->add(row(t0, "x" + std::string(5000, 'y'), "m" + model));
    ASSERT_TRUE(store->flush().ok());
    const auto rows = read_all(p);
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].provider.size(), 512u);
    EXPECT_EQ(rows[0].model.size(), 511u); // "m" + 255 × "é"; the 256th would be split
    EXPECT_EQ(rows[0].model, ("m" + model).substr(0, 511));
}

TEST(UsageStore, PurgeDeletesOnlyRowsOlderThanTheRetention) {
    clipal::test::temp_dir dir;
    const auto p = dir.path() / "usage.db";
    auto store = open_store(p);
    ASSERT_TRUE(store);
    const std::int64_t now = t0 + 200 * day_ms;
    for (std::int64_t age : {120 * day_ms, 91 * day_ms, 90 * day_ms + 1, 90 * day_ms - 1, day_ms, std::int64_t{0}})
        store->add(row(now - age));
    ASSERT_TRUE(store->flush().ok());

    EXPECT_EQ(store->purge_older_than(0, now).rows, 0u) << "0 keeps rows forever";
    EXPECT_EQ(read_all(p).size(), 6u);
    auto r = store->purge_older_than(90, now);
    EXPECT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(r.rows, 3u);
    const auto left = read_all(p);
    ASSERT_EQ(left.size(), 3u);
    for (const auto& l : left) EXPECT_GE(l.time_ms, now - 90 * day_ms);

    // A backlog goes in bounded steps, oldest first.
    for (int i = 0; i < 25; ++i) store->add(row(t0 + i));
    ASSERT_TRUE(store->flush().ok());
    EXPECT_EQ(store->purge_older_than(90, now, 10).rows, 10u);
    EXPECT_EQ(store->purge_older_than(90, now, 10).rows, 10u);
    EXPECT_EQ(store->purge_older_than(90, now, 10).rows, 5u);
    EXPECT_EQ(store->purge_older_than(90, now, 10).rows, 0u);
    EXPECT_EQ(read_all(p).size(), 3u);
}

TEST(UsageStore, RefusesADatabaseANewerClipalWrote) {
    clipal::test::temp_dir dir;
    const auto p = dir.path() / "usage.db";
    ASSERT_TRUE(open_store(p));
    {
        raw_db raw(p);
        ASSERT_EQ(raw.exec("PRAGMA user_version = 2"), SQLITE_OK);
    }
    const auto expected = "the usage database " + p.string() +
                          " was written by a newer clipal (schema version 2; this clipal knows up to 1): update "
                          "clipal, or move the file aside (mv " +
                          p.string() + " " + p.string() + ".newer) to start a new one";
    const auto w = usage_store::open(p);
    EXPECT_FALSE(w.store);
    EXPECT_EQ(w.error, expected);
    const auto r = usage_reader::open(p);
    EXPECT_FALSE(r.reader);
    EXPECT_FALSE(r.no_data);
    EXPECT_EQ(r.error, expected);
    raw_db raw(p);
    EXPECT_EQ(raw.text("PRAGMA user_version"), "2") << "a refused file is left as it was";
}

TEST(UsageStore, AReaderReadsWhileTheWriterWrites) {
    clipal::test::temp_dir dir;
    const auto p = dir.path() / "usage.db";
    auto store = open_store(p);
    ASSERT_TRUE(store);
    store->add(row(t0));
    ASSERT_TRUE(store->flush().ok());

    // A reader in the middle of a read transaction does not hold the writer up.
    raw_db reader(p, SQLITE_OPEN_READONLY);
    ASSERT_EQ(reader.exec("BEGIN"), SQLITE_OK);
    EXPECT_EQ(reader.text("SELECT count(*) FROM requests"), "1");
    store->add(row(t0 + 1));
    const auto start = std::chrono::steady_clock::now();
    EXPECT_TRUE(store->flush().ok());
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(400)) << "no busy wait";
    EXPECT_EQ(reader.text("SELECT count(*) FROM requests"), "1") << "its snapshot stays";
    ASSERT_EQ(reader.exec("COMMIT"), SQLITE_OK);
    EXPECT_EQ(reader.text("SELECT count(*) FROM requests"), "2");

    // `clipal usage` reading over and over while batches go in: every read and write works.
    std::atomic<bool> done{false};
    std::atomic<int> reads{0}, read_errors{0};
    std::thread t([&] {
        while (!done) {
            auto r = usage_reader::open(p);
            std::string error;
            if (!r.reader || !r.reader->totals(0, usage_grouping::provider, error))
                ++read_errors;
            else
                ++reads;
        }
    });
    for (int batch = 0; batch < 30; ++batch) {
        for (int i = 0; i < 50; ++i) store->add(row(t0 + 10 + batch * 50 + i));
        const auto r = store->flush();
        EXPECT_TRUE(r.ok()) << r.error;
    }
    while (reads.load() < 5 && read_errors.load() == 0) std::this_thread::yield();
    done = true;
    t.join();
    EXPECT_EQ(read_errors.load(), 0);
    EXPECT_EQ(read_all(p).size(), 2u + 30 * 50);
}

TEST(UsageStore, AReaderWorksWhenNoWriterRuns) {
    clipal::test::temp_dir dir;
    const auto p = dir.path() / "usage.db";
    {
        auto store = open_store(p);
        ASSERT_TRUE(store);
        store->add(row(t0));
        ASSERT_TRUE(store->flush().ok());
    }
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "usage.db-wal")) << "the last writer checkpointed";
    EXPECT_EQ(read_all(p).size(), 1u);
    EXPECT_TRUE(usage_reader::open(dir.path() / "nothing.db").no_data);
}

TEST(UsageStore, APathThatCannotBeWrittenIsAClearError) {
    clipal::test::temp_dir dir;
    const auto missing = dir.path() / "no-such-dir" / "usage.db";
    EXPECT_EQ(usage_store::open(missing).error, "cannot open the usage database " + missing.string() +
                                                    ": the directory " + (dir.path() / "no-such-dir").string() +
                                                    " does not exist (create it, or check --config-dir)");
    const auto file = dir.write("plain-file", "x");
    EXPECT_EQ(usage_store::open(file / "usage.db").error, "cannot open the usage database " +
                                                              (file / "usage.db").string() + ": " + file.string() +
                                                              " is not a directory");
    std::filesystem::create_directory(dir.path() / "usage.db");
    EXPECT_EQ(usage_store::open(dir.path() / "usage.db").error,
              "cannot open the usage database " + (dir.path() / "usage.db").string() +
                  ": it is a directory (move it aside; clipal creates the file)");
    EXPECT_THAT(usage_reader::open(dir.path() / "usage.db").error, HasSubstr("it is a directory"));
    if (::geteuid() != 0) { // root writes anyway
        const auto ro = dir.path() / "ro";
        std::filesystem::create_directory(ro);
        ::chmod(ro.c_str(), 0500);
        EXPECT_THAT(usage_store::open(ro / "usage.db").error,
                    HasSubstr("Permission denied (the directory and the file must be writable"));
        ::chmod(ro.c_str(), 0700);
    }
}

TEST(UsageStore, ACorruptFileIsAClearError) {
    clipal::test::temp_dir dir;
    std::string junk;
    while (junk.size() < 8192) junk += "this is not an SQLite database, it is a text file. ";
    const auto p = dir.write("usage.db", junk);
    const auto advice = "(it is not a usage database or it is damaged; move it aside, e.g. mv " + p.string() + " " +
                        p.string() + ".bad, and clipal starts a new one)";
    const auto w = usage_store::open(p);
    EXPECT_FALSE(w.store);
    EXPECT_EQ(w.error, "cannot open the usage database " + p.string() + ": file is not a database " + advice);
    const auto r = usage_reader::open(p);
    EXPECT_FALSE(r.reader);
    EXPECT_EQ(r.error, "cannot read the usage database " + p.string() + ": file is not a database " + advice);
}

TEST(UsageStore, AFailingWriteKeepsTheRowsAndIsReportedOnce) {
    clipal::test::temp_dir dir;
    const auto p = dir.path() / "usage.db";
    auto store = open_store(p, 3);
    ASSERT_TRUE(store);
    raw_db other(p); // another program holds the write lock
    ASSERT_EQ(other.exec("BEGIN IMMEDIATE"), SQLITE_OK);
    for (int i = 0; i < 5; ++i) store->add(row(t0 + i));
    EXPECT_EQ(store->pending(), 3u) << "bounded";

    auto r = store->flush();
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error, "cannot write to the usage database " + p.string() +
                           ": database is locked (another program holds a lock on it)");
    EXPECT_TRUE(r.report);
    EXPECT_EQ(r.dropped, 2u);
    EXPECT_EQ(store->pending(), 3u);
    r = store->flush();
    EXPECT_FALSE(r.ok());
    EXPECT_FALSE(r.report) << "the same failure again is not news";
    EXPECT_EQ(r.dropped, 0u);
    EXPECT_FALSE(store->purge_older_than(1, t0 + 10 * day_ms).report);

    ASSERT_EQ(other.exec("COMMIT"), SQLITE_OK);
    r = store->flush();
    EXPECT_TRUE(r.ok()) << r.error;
    EXPECT_TRUE(r.recovered);
    EXPECT_EQ(r.rows, 3u);
    EXPECT_EQ(read_all(p).size(), 3u);
    store->add(row(t0 + 9));
    EXPECT_FALSE(store->flush().recovered);
}

// The figure quoted in usage_store.cpp: what a flush of 1,000 rows costs the event loop.
TEST(UsageStore, FlushOfAThousandRowsIsQuick) {
    clipal::test::temp_dir dir;
    auto store = open_store(dir.path() / "usage.db");
    ASSERT_TRUE(store);
    std::vector<double> ms;
    for (int round = 0; round < 50; ++round) {
        for (int i = 0; i < 1000; ++i)
            store->add(row(t0 + round * 1000 + i, i % 2 ? "primary" : "backup", i % 3 ? "model-a" : "model-b"));
        const auto start = std::chrono::steady_clock::now();
        const auto r = store->flush();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        ASSERT_TRUE(r.ok()) << r.error;
        ASSERT_EQ(r.rows, 1000u);
    }
    std::sort(ms.begin(), ms.end());
    std::printf("flush of 1000 rows: median %.2f ms, max %.2f ms (50 rounds, WAL checkpoints included)\n",
                ms[ms.size() / 2], ms.back());
    EXPECT_LT(ms[ms.size() / 2], 250.0); // generous: sanitizer builds and a busy machine
}
