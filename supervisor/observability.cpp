#include "supervisor/observability.hpp"

#include "clipal/version.hpp"
#include "shared/error_body.hpp"
#include "shared/metrics_report.hpp"
#include "shared/request_guard.hpp"

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>

#include <chrono>

namespace clipal::supervisor {
namespace {

namespace http = boost::beast::http;

// Old rows go once an hour, in bounded steps so a large backlog never holds the loop up.
constexpr auto purge_interval = std::chrono::hours(1);
constexpr std::size_t purge_step = 10000;

std::int64_t unix_ms(clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

} // namespace

observability::observability(boost::asio::io_context& ioc, const clock& clk, logger& log,
                             std::filesystem::path config_dir)
    : ioc_(ioc),
      clock_(clk),
      log_(log),
      config_dir_(std::move(config_dir)),
      registry_(clipal::version),
      activity_(clk),
      flush_timer_(ioc),
      purge_timer_(ioc) {}

void observability::start(const global_config& g) {
    configure(g);
    auto opened = usage_store::open(usage_db_path(config_dir_));
    if (!opened.store) {
        log_.error("", "usage accounting is off: {}", opened.error);
        return;
    }
    store_ = std::move(opened.store);
    purge();
}

void observability::on_report(profile p, std::string_view json, std::string_view rows, bool retiring) {
    auto parsed = parse_metrics_report(json);
    // Both halves are read before either is applied: the counts and the rows describe the
    // same requests, so a report counts whole or not at all.
    const auto decoded = parsed.value ? rows_decoder_.decode(rows, info(p).name) : usage_rows_decode_result{};
    if (!parsed.value || !decoded.ok()) {
        // A worker of another build, or a bug: its counts are lost, nothing else is.
        if (bad_reports_++ == 0)
            log_.warn(info(p).tag, "a worker report could not be read ({}); its counts are left out",
                      parsed.value ? decoded.error : parsed.error);
        return;
    }
    auto& r = *parsed.value;
    registry_.add(p, r, retiring ? metrics_registry::gauges::ignore : metrics_registry::gauges::replace);
    activity_.add_report(p, r, decoded.rows);
    if (r.usage_dropped > 0)
        log_.warn(info(p).tag, "{} usage rows were dropped by the worker (it could not send them in time)",
                  r.usage_dropped);
    if (!store_ || decoded.rows.empty()) return;
    std::size_t pending = 0;
    for (const auto& row : decoded.rows) pending = store_->add(row);
    if (pending >= usage_store::batch_rows)
        write_pending();
    else
        schedule_flush();
}

void observability::worker_started(profile p, bool restart) {
    if (restart) registry_.worker_restarted(p);
}

void observability::worker_gone(profile p) { registry_.worker_gone(p); }

void observability::schedule_flush() {
    if (flush_armed_) return;
    flush_armed_ = true;
    flush_timer_.expires_after(usage_store::batch_interval);
    flush_timer_.async_wait([this](boost::system::error_code ec) {
        flush_armed_ = false;
        if (!ec) write_pending();
    });
}

void observability::write_pending() {
    if (!store_ || store_->pending() == 0) return;
    const auto r = store_->flush();
    if (r.report) log_.error("", "usage rows not written (kept in memory, tried again): {}", r.error);
    if (r.recovered) log_.info("", "usage rows are written to {} again", store_->path().string());
    if (r.dropped > 0)
        log_.warn("", "{} usage rows were dropped while {} could not be written", r.dropped, store_->path().string());
    if (!r.ok()) schedule_flush();
}

void observability::flush() {
    flush_timer_.cancel();
    write_pending();
}

void observability::purge() {
    if (store_) {
        const auto r = store_->purge_older_than(retention_days_, unix_ms(clock_.now()), purge_step);
        if (r.report) log_.warn("", "old usage rows not purged: {}", r.error);
        // A full step: more is due, soon but not at once.
        const auto next = r.ok() && r.rows == purge_step
                              ? std::chrono::seconds(1)
                              : std::chrono::duration_cast<std::chrono::seconds>(purge_interval);
        purge_timer_.expires_after(next);
    } else {
        purge_timer_.expires_after(purge_interval);
    }
    purge_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) purge();
    });
}

local_response observability::metrics_answer(std::string_view head, const global_config& g) const {
    http::request_parser<http::empty_body> parser;
    parser.eager(false);
    boost::system::error_code ec;
    parser.put(boost::asio::buffer(head.data(), head.size()), ec);
    if (ec || !parser.is_header_done()) return error_response(protocol::openai, 400, "malformed request head");
    const auto& req = parser.get();
    guard_input in;
    in.proto = protocol::openai; // a scraper's token goes as Authorization: Bearer
    for (const auto& f : req) {
        switch (f.name()) {
        case http::field::host: in.host.push_back(f.value()); break;
        case http::field::origin: in.origin.push_back(f.value()); break;
        case http::field::authorization: in.authorization.push_back(f.value()); break;
        default: break;
        }
    }
    in.target = req.target();
    const guard_settings settings{g.listen_addr, g.allowed_hosts, g.allowed_origins, g.access_token};
    // Refused without a log line: the answer says why, and a scraper would repeat it each scrape.
    if (const auto refused = check_request(in, settings))
        return error_response(protocol::openai, refused->status, refused->message);
    if (req.method() != http::verb::get && req.method() != http::verb::head)
        return error_response(protocol::openai, 405, "/metrics answers GET");
    return {200, registry_.exposition(), std::nullopt, std::string(metrics_content_type), {}};
}

} // namespace clipal::supervisor
