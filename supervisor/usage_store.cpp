// usage.db through SQLite's C API: two RAII owners (usage_store.hpp), prepared statements,
// explicit transactions. Every failure becomes a message naming the file and what to do.
//
// Cost of flush() on the supervisor's event loop, measured by the unit test
// UsageStore.FlushOfAThousandRowsIsQuick (RelWithDebInfo tree, this library at -O2) on this
// project's build machine (/proc/cpuinfo: "AMD EPYC", 2 vCPUs shared with other builds; ext4
// on a virtio disk): 1,000 rows in one transaction take 0.56 ms (median of 50 flushes, three
// runs: 0.55, 0.56, 0.56 ms; with one INSERT statement per row, measured beside it, 0.89 ms).
// The slowest flush of a run, 12-26 ms, is one that ran SQLite's automatic WAL checkpoint
// (every 1,000 WAL pages, 4 MB: about every 20,000 rows; it fsyncs the database). Flushing
// every second or every 500 rows keeps the loop free.
//
// Instructions per row, binding and stepping included (callgrind, SQLite 3.40, 500 rows a
// transaction): 10,800 with a statement per row (11,050 when its bindings were also cleared
// each time), 7,300 with 16 rows a statement, 7,100 with 32, 7,200 with 64. Of those the index
// on time_ms takes some 1,850; every query needs it.
#include "supervisor/usage_store.hpp"

#include "shared/text.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <limits>
#include <utility>

namespace clipal::supervisor {

namespace sqlite {
void db_closer::operator()(sqlite3* db) const noexcept { ::sqlite3_close_v2(db); }
void statement_finalizer::operator()(sqlite3_stmt* s) const noexcept { ::sqlite3_finalize(s); }
} // namespace sqlite

namespace {

namespace fs = std::filesystem;

// The schema's history: migrations[i] takes a database from user_version i to i + 1, in
// one transaction together with the version bump. Append a step for a new version; never
// change one that has shipped (a user's usage.db went through it).
struct migration {
    int to_version;
    const char* sql;
};

// Every query reads by time (`clipal usage --since`, the purge): one index. A second one on
// (provider, model) cost about a third of each insert and no query used it.
constexpr migration migrations[] = {
    {1, R"sql(
CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    profile TEXT NOT NULL,
    provider TEXT NOT NULL,
    key_fingerprint TEXT NOT NULL,
    model TEXT NOT NULL,
    status INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    ttfb_ms INTEGER,
    duration_ms INTEGER NOT NULL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cache_read_tokens INTEGER,
    cache_write_tokens INTEGER
);
CREATE INDEX requests_by_time ON requests (time_ms);
)sql"},
};

constexpr bool migrations_are_in_order() {
    int v = 0;
    for (const auto& m : migrations)
        if (m.to_version != ++v) return false;
    return v == usage_schema_version;
}
static_assert(migrations_are_in_order(), "migrations must go 1, 2, ... up to usage_schema_version");

constexpr const char* record_columns = "time_ms, profile, provider, key_fingerprint, model, status, attempts, "
                                       "ttfb_ms, duration_ms, input_tokens, output_tokens, cache_read_tokens, "
                                       "cache_write_tokens";

// Text columns longer than this are cut (at a UTF-8 boundary): a model name is what a client
// sent, and one request must not bloat the database.
constexpr std::size_t max_text_bytes = 512;

// How long a statement waits for another connection's lock. The writer's only competitor
// is a program writing to the file by hand (WAL readers never block it), so it waits little:
// it runs on the supervisor's event loop. A reader may wait longer.
constexpr int writer_busy_timeout_ms = 500;
constexpr int reader_busy_timeout_ms = 5000;

std::string what_to_do(int rc, const fs::path& path) {
    switch (rc & 0xff) {
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        return " (it is not a usage database or it is damaged; move it aside, e.g. mv " + path.string() + " " +
               path.string() + ".bad, and clipal starts a new one)";
    case SQLITE_FULL: return " (the disk is full)";
    case SQLITE_READONLY:
        return " (it is read-only for this user; it must be writable by the user clipal runs as: chmod 600 " +
               path.string() + ")";
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return " (another program holds a lock on it)";
    case SQLITE_CANTOPEN:
        return " (check that " + path.parent_path().string() + " exists and is writable by the user clipal runs as)";
    default: return {};
    }
}

// "<sqlite's words> (<what to do>)" for a failed call on `db`.
std::string describe(sqlite3* db, int rc, const fs::path& path) {
    std::string msg = db != nullptr && ::sqlite3_errcode(db) != SQLITE_OK ? ::sqlite3_errmsg(db) : ::sqlite3_errstr(rc);
    return msg + what_to_do(rc, path);
}

bool prepare(sqlite3* db, const char* sql, sqlite::statement& out, int& rc) {
    sqlite3_stmt* raw = nullptr;
    rc = ::sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    out.reset(raw);
    return rc == SQLITE_OK;
}

// Steps a statement that returns no rows to its end and resets it; the result code.
int run(sqlite3_stmt* s) {
    const int rc = ::sqlite3_step(s);
    ::sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

// PRAGMA user_version, or the error code that reading it gave (a file that is not a database
// fails here: SQLite reads the header lazily).
int read_user_version(sqlite3* db, int& version) {
    sqlite::statement s;
    int rc = SQLITE_OK;
    if (!prepare(db, "PRAGMA user_version", s, rc)) return rc;
    rc = ::sqlite3_step(s.get());
    if (rc != SQLITE_ROW) return rc;
    version = ::sqlite3_column_int(s.get(), 0);
    return SQLITE_OK;
}

std::string newer_version_message(const fs::path& path, int version) {
    return "the usage database " + path.string() + " was written by a newer clipal (schema version " +
           std::to_string(version) + "; this clipal knows up to " + std::to_string(usage_schema_version) +
           "): update clipal, or move the file aside (mv " + path.string() + " " + path.string() +
           ".newer) to start a new one";
}

std::string_view capped(std::string_view s) {
    if (s.size() <= max_text_bytes) return s;
    std::size_t n = max_text_bytes;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return s.substr(0, n);
}
static_assert(max_text_bytes <= std::numeric_limits<std::uint16_t>::max());

template <class T>
void bind_optional(sqlite3_stmt* s, int i, const std::optional<T>& v) {
    if (!v)
        ::sqlite3_bind_null(s, i);
    else
        ::sqlite3_bind_int64(s, i,
                             static_cast<sqlite3_int64>(std::min<std::uint64_t>(
                                 *v, static_cast<std::uint64_t>(std::numeric_limits<sqlite3_int64>::max()))));
}

constexpr int record_column_count = 13;

// "(?,?,...),(?,...)": `rows` rows of record_columns' parameters.
std::string placeholders(std::size_t rows) {
    std::string one = "(?";
    for (int i = 1; i < record_column_count; ++i) one += ",?";
    one += ")";
    std::string all = one;
    for (std::size_t i = 1; i < rows; ++i) all += "," + one;
    return all;
}

std::string column_text(sqlite3_stmt* s, int i) {
    const auto* p = ::sqlite3_column_text(s, i);
    return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), ::sqlite3_column_bytes(s, i));
}

std::uint64_t column_count(sqlite3_stmt* s, int i) {
    const auto v = ::sqlite3_column_int64(s, i);
    return v > 0 ? static_cast<std::uint64_t>(v) : 0;
}

template <class T>
std::optional<T> column_optional(sqlite3_stmt* s, int i) {
    if (::sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
    return static_cast<T>(column_count(s, i));
}

// Makes sure `path` exists as a regular file only its owner can read and write, before
// SQLite opens it (SQLite would create it 0644; its -wal and -shm files copy the database
// file's mode). The message when it cannot.
std::string prepare_file(const fs::path& path) {
    const std::string where = "cannot open the usage database " + path.string() + ": ";
    std::error_code ec;
    const auto dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    if (!fs::exists(dir, ec))
        return where + "the directory " + dir.string() + " does not exist (create it, or check --config-dir)";
    if (!fs::is_directory(dir, ec)) return where + dir.string() + " is not a directory";
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        const int e = errno;
        if (e == EACCES || e == EPERM)
            return where + errno_text(e) + " (the directory and the file must be writable by the user clipal runs as)";
        if (e == EISDIR) return where + "it is a directory (move it aside; clipal creates the file)";
        if (e == EROFS) return where + "the file system is read-only";
        return where + errno_text(e);
    }
    struct stat st {};
    std::string problem;
    if (::fstat(fd, &st) != 0)
        problem = where + errno_text(errno);
    else if (!S_ISREG(st.st_mode))
        problem = where + "it is not a regular file (move it aside; clipal creates the file)";
    else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        (void)::fchmod(fd, S_IRUSR | S_IWUSR); // token counts are the user's business alone
    ::close(fd);
    return problem;
}

} // namespace

fs::path usage_db_path(const fs::path& config_dir) { return config_dir / "usage.db"; }

usage_store::usage_store(fs::path path, sqlite::database db, std::size_t max_pending)
    : path_(std::move(path)), db_(std::move(db)), max_pending_(max_pending) {}

usage_store::~usage_store() {
    // Statements before the connection (sqlite3_close_v2 would defer the close anyway).
    insert_.reset();
    insert_batch_.reset();
    purge_.reset();
    begin_.reset();
    commit_.reset();
    rollback_.reset();
}

usage_store::open_result usage_store::open(const fs::path& path, std::size_t max_pending) {
    open_result out;
    if (auto problem = prepare_file(path); !problem.empty()) {
        out.error = std::move(problem);
        return out;
    }
    const std::string where = "the usage database " + path.string();
    sqlite3* raw = nullptr;
    int rc = ::sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    sqlite::database db(raw);
    if (rc != SQLITE_OK) {
        out.error = "cannot open " + where + ": " + describe(db.get(), rc, path);
        return out;
    }
    ::sqlite3_busy_timeout(db.get(), writer_busy_timeout_ms);
    if (::sqlite3_db_readonly(db.get(), "main") == 1) {
        out.error = "cannot open " + where + ": " + describe(nullptr, SQLITE_READONLY, path);
        return out;
    }
    int version = 0;
    if (rc = read_user_version(db.get(), version); rc != SQLITE_OK) {
        out.error = "cannot open " + where + ": " + describe(db.get(), rc, path);
        return out;
    }
    if (version > usage_schema_version) {
        out.error = newer_version_message(path, version);
        return out;
    }
    {
        // WAL: `clipal usage` reads while the supervisor writes, neither waiting for the other.
        sqlite::statement s;
        if (!prepare(db.get(), "PRAGMA journal_mode = WAL", s, rc) || ::sqlite3_step(s.get()) != SQLITE_ROW) {
            out.error = "cannot switch " + where + " to WAL mode: " + describe(db.get(), rc, path);
            return out;
        }
        if (const auto mode = column_text(s.get(), 0); ascii_lower(mode) != "wal") {
            out.error = "cannot switch " + where + " to WAL mode (SQLite kept \"" + mode +
                        "\"; WAL needs a local file system, not a network share)";
            return out;
        }
    }
    // A power cut may lose the last second of rows; an application crash loses none.
    if (rc = ::sqlite3_exec(db.get(), "PRAGMA synchronous = NORMAL", nullptr, nullptr, nullptr); rc != SQLITE_OK) {
        out.error = "cannot configure " + where + ": " + describe(db.get(), rc, path);
        return out;
    }
    for (const auto& m : migrations) {
        if (m.to_version <= version) continue;
        const std::string sql = std::string("BEGIN IMMEDIATE;") + m.sql +
                                "PRAGMA user_version = " + std::to_string(m.to_version) + ";COMMIT;";
        if (rc = ::sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, nullptr); rc != SQLITE_OK) {
            out.error = "cannot bring " + where + " from schema version " + std::to_string(version) + " to " +
                        std::to_string(m.to_version) + ": " + describe(db.get(), rc, path);
            if (::sqlite3_get_autocommit(db.get()) == 0)
                ::sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
            return out;
        }
        version = m.to_version;
    }

    std::unique_ptr<usage_store> store(new usage_store(path, std::move(db), max_pending));
    sqlite3* h = store->db_.get();
    const std::string insert = std::string("INSERT INTO requests (") + record_columns + ") VALUES ";
    if (!prepare(h, "BEGIN IMMEDIATE", store->begin_, rc) || !prepare(h, "COMMIT", store->commit_, rc) ||
        !prepare(h, "ROLLBACK", store->rollback_, rc) ||
        !prepare(h, (insert + placeholders(1)).c_str(), store->insert_, rc) ||
        !prepare(h, (insert + placeholders(insert_batch_rows)).c_str(), store->insert_batch_, rc) ||
        !prepare(h,
                 "DELETE FROM requests WHERE id IN "
                 "(SELECT id FROM requests WHERE time_ms < ?1 ORDER BY time_ms LIMIT ?2)",
                 store->purge_, rc)) {
        out.error = "cannot use " + where + ": " + describe(h, rc, path);
        return out;
    }
    out.store = std::move(store);
    return out;
}

std::size_t usage_store::add(const usage_row_view& r) {
    if (pending_.size() >= max_pending_) {
        ++dropped_;
        return pending_.size();
    }
    pending_row p{r.time_ms,
                  static_cast<std::uint32_t>(text_.size()),
                  {},
                  r.status,
                  r.attempts,
                  r.ttfb_ms,
                  r.duration_ms,
                  {r.input_tokens, r.output_tokens, r.cache_read_tokens, r.cache_write_tokens}};
    const std::string_view texts[] = {r.profile, r.provider, r.key_fingerprint, r.model};
    for (std::size_t i = 0; i < 4; ++i) {
        const auto t = capped(texts[i]);
        text_.append(t);
        p.text_size[i] = static_cast<std::uint16_t>(t.size());
    }
    pending_.push_back(p);
    return pending_.size();
}

// Every parameter is bound each time (NULL for an absent count), so no clear_bindings.
void usage_store::bind(sqlite3_stmt* s, int first, const pending_row& r) const {
    ::sqlite3_bind_int64(s, first, r.time_ms);
    std::size_t at = r.text_at;
    for (int i = 0; i < 4; ++i) {
        const auto size = r.text_size[static_cast<std::size_t>(i)];
        ::sqlite3_bind_text(s, first + 1 + i, text_.data() + at, size, SQLITE_STATIC);
        at += size;
    }
    ::sqlite3_bind_int(s, first + 5, r.status);
    ::sqlite3_bind_int64(s, first + 6, r.attempts);
    bind_optional(s, first + 7, r.ttfb_ms);
    ::sqlite3_bind_int64(s, first + 8, r.duration_ms);
    for (int i = 0; i < 4; ++i) bind_optional(s, first + 9 + i, r.tokens[static_cast<std::size_t>(i)]);
}

usage_write_result usage_store::flush() {
    usage_write_result r;
    if (pending_.empty()) return r;
    sqlite3* db = db_.get();
    int rc = run(begin_.get());
    std::size_t i = 0;
    for (; rc == SQLITE_OK && pending_.size() - i >= insert_batch_rows; i += insert_batch_rows) {
        for (std::size_t k = 0; k < insert_batch_rows; ++k)
            bind(insert_batch_.get(), static_cast<int>(k) * record_column_count + 1, pending_[i + k]);
        rc = run(insert_batch_.get());
    }
    for (; rc == SQLITE_OK && i < pending_.size(); ++i) {
        bind(insert_.get(), 1, pending_[i]);
        rc = run(insert_.get());
    }
    if (rc == SQLITE_OK) rc = run(commit_.get());
    if (rc != SQLITE_OK) {
        // The message is taken before ROLLBACK replaces it; the same failure reads the same
        // each time (no counts in it), so that it is reported once.
        auto cause = describe(db, rc, path_);
        r.error = "cannot write to the usage database " + path_.string() + ": " + cause;
        if (::sqlite3_get_autocommit(db) == 0) run(rollback_.get());
        return finish(std::move(r), cause);
    }
    r.rows = pending_.size();
    pending_.clear();
    text_.clear();
    return finish(std::move(r), {});
}

usage_write_result usage_store::purge_older_than(int days, std::int64_t now_ms, std::size_t max_rows) {
    usage_write_result r;
    if (days <= 0 || max_rows == 0) return r;
    const std::int64_t cutoff = now_ms - static_cast<std::int64_t>(days) * 86'400'000;
    ::sqlite3_bind_int64(purge_.get(), 1, cutoff);
    ::sqlite3_bind_int64(purge_.get(), 2,
                         static_cast<sqlite3_int64>(
                             std::min<std::size_t>(max_rows, std::numeric_limits<sqlite3_int64>::max())));
    std::string cause;
    if (const int rc = run(purge_.get()); rc != SQLITE_OK) {
        cause = describe(db_.get(), rc, path_);
        r.error = "cannot delete old rows from the usage database " + path_.string() + ": " + cause;
    } else {
        r.rows = static_cast<std::size_t>(::sqlite3_changes64(db_.get()));
    }
    return finish(std::move(r), cause);
}

usage_write_result usage_store::finish(usage_write_result r, const std::string& cause) {
    // Failures are told apart by their cause, so that a full disk is one report whether the
    // flush or the purge ran into it first.
    if (!r.ok()) {
        r.report = cause != last_cause_;
        last_cause_ = cause;
    } else if (!last_cause_.empty()) {
        r.recovered = true;
        last_cause_.clear();
    }
    if (r.report || r.ok()) {
        r.dropped = dropped_;
        dropped_ = 0;
    }
    return r;
}

std::string_view to_string(usage_grouping g) {
    switch (g) {
    case usage_grouping::provider: return "provider";
    case usage_grouping::model: return "model";
    case usage_grouping::profile: return "profile";
    case usage_grouping::day: return "day";
    }
    return "provider";
}

std::optional<usage_grouping> usage_grouping_from_string(std::string_view s) {
    for (auto g : {usage_grouping::provider, usage_grouping::model, usage_grouping::profile, usage_grouping::day})
        if (to_string(g) == s) return g;
    return std::nullopt;
}

usage_reader::usage_reader(fs::path path, sqlite::database db) : path_(std::move(path)), db_(std::move(db)) {}

usage_reader::~usage_reader() = default;

usage_reader::open_result usage_reader::open(const fs::path& path) {
    open_result out;
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        out.no_data = true;
        return out;
    }
    const std::string where = "cannot read the usage database " + path.string() + ": ";
    if (fs::is_directory(path, ec)) {
        out.error = where + "it is a directory";
        return out;
    }
    sqlite3* raw = nullptr;
    int rc = ::sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
    sqlite::database db(raw);
    if (rc != SQLITE_OK) {
        out.error = where + describe(db.get(), rc, path);
        return out;
    }
    ::sqlite3_busy_timeout(db.get(), reader_busy_timeout_ms);
    int version = 0;
    if (rc = read_user_version(db.get(), version); rc != SQLITE_OK) {
        out.error = where + describe(db.get(), rc, path);
        return out;
    }
    if (version == 0) {
        out.no_data = true; // created, nothing written yet
        return out;
    }
    if (version > usage_schema_version) {
        out.error = newer_version_message(path, version);
        return out;
    }
    if (version < usage_schema_version) {
        // Only the writer migrates; this build reads the newest schema only.
        out.error = where + "it has schema version " + std::to_string(version) + " and this clipal reads version " +
                    std::to_string(usage_schema_version) + " (start clipal once: it brings the file up to date)";
        return out;
    }
    out.reader.reset(new usage_reader(path, std::move(db)));
    return out;
}

std::optional<std::vector<usage_totals>> usage_reader::totals(std::int64_t since_ms, usage_grouping by,
                                                              std::string& error) {
    std::string group;
    switch (by) {
    case usage_grouping::provider: group = "provider"; break;
    case usage_grouping::model: group = "model"; break;
    case usage_grouping::profile: group = "profile"; break;
    case usage_grouping::day: group = "strftime('%Y-%m-%d', time_ms / 1000, 'unixepoch', 'localtime')"; break;
    }
    const std::string sql =
        "SELECT " + group +
        " AS grp, model, count(*), sum(status = 0 OR status >= 400), coalesce(sum(input_tokens), 0), "
        "coalesce(sum(output_tokens), 0), coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0) "
        "FROM requests WHERE time_ms >= ?1 GROUP BY grp, model ORDER BY grp, model";
    sqlite::statement s;
    int rc = SQLITE_OK;
    std::vector<usage_totals> out;
    if (prepare(db_.get(), sql.c_str(), s, rc)) {
        ::sqlite3_bind_int64(s.get(), 1, since_ms);
        while ((rc = ::sqlite3_step(s.get())) == SQLITE_ROW) {
            usage_totals t;
            t.group = column_text(s.get(), 0);
            t.model = column_text(s.get(), 1);
            t.requests = column_count(s.get(), 2);
            t.failures = column_count(s.get(), 3);
            t.input_tokens = column_count(s.get(), 4);
            t.output_tokens = column_count(s.get(), 5);
            t.cache_read_tokens = column_count(s.get(), 6);
            t.cache_write_tokens = column_count(s.get(), 7);
            out.push_back(std::move(t));
        }
        if (rc == SQLITE_DONE) return out;
    }
    error = "cannot read the usage database " + path_.string() + ": " + describe(db_.get(), rc, path_);
    return std::nullopt;
}

std::optional<std::vector<usage_record>> usage_reader::records(std::int64_t since_ms, std::string& error) {
    const std::string sql = std::string("SELECT ") + record_columns + " FROM requests WHERE time_ms >= ?1 ORDER BY id";
    sqlite::statement s;
    int rc = SQLITE_OK;
    std::vector<usage_record> out;
    if (prepare(db_.get(), sql.c_str(), s, rc)) {
        ::sqlite3_bind_int64(s.get(), 1, since_ms);
        while ((rc = ::sqlite3_step(s.get())) == SQLITE_ROW) {
            usage_record r;
            r.time_ms = ::sqlite3_column_int64(s.get(), 0);
            r.profile = column_text(s.get(), 1);
            r.provider = column_text(s.get(), 2);
            r.key_fingerprint = column_text(s.get(), 3);
            r.model = column_text(s.get(), 4);
            r.status = ::sqlite3_column_int(s.get(), 5);
            r.attempts = static_cast<std::uint32_t>(column_count(s.get(), 6));
            r.ttfb_ms = column_optional<std::uint32_t>(s.get(), 7);
            r.duration_ms = static_cast<std::uint32_t>(column_count(s.get(), 8));
            r.input_tokens = column_optional<std::uint64_t>(s.get(), 9);
            r.output_tokens = column_optional<std::uint64_t>(s.get(), 10);
            r.cache_read_tokens = column_optional<std::uint64_t>(s.get(), 11);
            r.cache_write_tokens = column_optional<std::uint64_t>(s.get(), 12);
            out.push_back(std::move(r));
        }
        if (rc == SQLITE_DONE) return out;
    }
    error = "cannot read the usage database " + path_.string() + ": " + describe(db_.get(), rc, path_);
    return std::nullopt;
}

} // namespace clipal::supervisor
