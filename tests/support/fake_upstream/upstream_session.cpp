// Request loop and step playback of the fake upstream. Prepared responses are written
// straight from the provider's strings; only dynamic answers use the session's buffer.
#include "support/fake_upstream/upstream_session.hpp"

#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <iostream>
#include <type_traits>

namespace clipal::test::fake_upstream {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr auto idle_timeout = 300s; // between requests on a kept-alive connection
constexpr auto io_timeout = 60s;    // any single write, or a TLS handshake
constexpr auto stall_limit = 600s;  // stall steps give up after this even if the client waits
constexpr std::size_t piece_size = 65536;
constexpr std::size_t record_body_limit = 64 * 1024;

const std::string last_chunk_text(last_chunk);
constexpr std::string_view continue_text = "HTTP/1.1 100 Continue\r\n\r\n";

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// `"stream": true` anywhere in the JSON body; cheaper than parsing it.
bool wants_stream(std::string_view body) {
    constexpr std::string_view key = "\"stream\"";
    for (auto at = body.find(key); at != std::string_view::npos; at = body.find(key, at + 1)) {
        auto i = at + key.size();
        while (i < body.size() && is_ws(body[i])) ++i;
        if (i >= body.size() || body[i] != ':') continue;
        ++i;
        while (i < body.size() && is_ws(body[i])) ++i;
        if (body.substr(i, 4) == "true") return true;
    }
    return false;
}

// Gemini requests with generationConfig.responseMimeType "application/json".
bool wants_json_text(std::string_view body) {
    const auto at = body.find("\"responseMimeType\"");
    return at != std::string_view::npos && body.substr(at, 60).find("application/json") != std::string_view::npos;
}

bool iequals_prefix(std::string_view s, std::string_view lower_word) {
    if (s.size() < lower_word.size()) return false;
    for (std::size_t i = 0; i < lower_word.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) != lower_word[i]) return false;
    return true;
}

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        const std::size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        if (len == 0 || i + len > s.size()) return false;
        for (std::size_t k = 1; k < len; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
        i += len;
    }
    return true;
}

} // namespace

template <class Stream>
upstream_session<Stream>::upstream_session(Stream stream, session_context ctx)
    : stream_(std::move(stream)),
      ctx_(ctx),
      timer_(stream_.get_executor()),
      connection_id_(ctx.prov.next_connection_id()) {}

template <class Stream>
void upstream_session<Stream>::run() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
        do_read();
    } else {
        beast::get_lowest_layer(stream_).expires_after(io_timeout);
        stream_.async_handshake(net::ssl::stream_base::server,
                                [self = this->shared_from_this()](const boost::system::error_code& ec) {
                                    self->on_handshake(ec);
                                });
    }
}

template <class Stream>
void upstream_session<Stream>::on_handshake(const boost::system::error_code& ec) {
    if (ec) {
        if (ctx_.verbose)
            std::cerr << "fake-upstream: " << ctx_.prov.name() << " TLS handshake: " << ec.message() << "\n";
        return abort();
    }
    do_read();
}

template <class Stream>
void upstream_session<Stream>::do_read() {
    parser_.emplace();
    parser_->header_limit(1u << 20);
    parser_->body_limit(256u << 20);
    beast::get_lowest_layer(stream_).expires_after(idle_timeout);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                                self->on_header(ec);
                            });
}

template <class Stream>
void upstream_session<Stream>::on_header(const boost::system::error_code& ec) {
    if (ec == http::error::end_of_stream) return close();
    if (ec) return abort();
    auto read_body = [self = this->shared_from_this()] {
        beast::get_lowest_layer(self->stream_).expires_after(io_timeout);
        http::async_read(self->stream_, self->buffer_, *self->parser_,
                         [self](const boost::system::error_code& rec, std::size_t) { self->on_read(rec); });
    };
    // curl and others wait (about 1 s) for this before sending a larger body.
    if (!iequals_prefix(parser_->get()[http::field::expect], "100-continue")) return read_body();
    beast::get_lowest_layer(stream_).expires_after(io_timeout);
    net::async_write(stream_, net::buffer(continue_text),
                     [self = this->shared_from_this(), read_body](const boost::system::error_code& wec, std::size_t) {
                         if (wec) return self->abort();
                         read_body();
                     });
}

template <class Stream>
void upstream_session<Stream>::on_read(const boost::system::error_code& ec) {
    if (ec) return abort();
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    ++requests_;
    const auto arrived = std::chrono::steady_clock::now();

    // Codex probes WebSocket first; a plain refusal makes it fall back to HTTP. Not a
    // script step, so failover scripts count only real API calls.
    if (iequals_prefix(req[http::field::upgrade], "websocket")) {
        record_request(nullptr, arrived);
        return write(ctx_.prov.canned().websocket_refusal(), keep_alive_ ? then::read_next : then::close);
    }
    const step& st = ctx_.prov.next_step(req.target(), arrived);
    record_request(&st, arrived);
    step_ = &st;
    if (st.interim.empty()) return answer();
    // All interim heads in one write, ahead of the delay: with a delay the answer comes in
    // a later segment than they do, without one usually in the same.
    scratch_.clear();
    for (const int code : st.interim) scratch_ += interim_response(code);
    write(scratch_, then::answer);
}

template <class Stream>
void upstream_session<Stream>::answer() {
    const step& st = *step_;
    if (st.delay.count() > 0) {
        timer_.expires_after(st.delay);
        timer_.async_wait([self = this->shared_from_this(), &st](const boost::system::error_code& wait_ec) {
            if (!wait_ec) self->play(st);
        });
        return;
    }
    play(st);
}

template <class Stream>
void upstream_session<Stream>::play(const step& st) {
    const auto& req = parser_->get();
    const std::string_view target = req.target();
    const std::string_view body = req.body();
    const api a = classify(target);
    // Success answers name the model the request asked for, as the real APIs do.
    canned_ = ctx_.prov.canned_for(requested_model(target, body));
    const canned_responses& canned = *canned_;
    const then after = keep_alive_ ? then::read_next : then::close;
    const bool head = req.method() == http::verb::head;

    // A HEAD answer carries the head of what GET would send, and no body.
    auto respond = [&](const std::string& full) {
        if (!head) return write(full, after);
        const auto head_end = full.find("\r\n\r\n") + 4;
        if (&full == &scratch_)
            scratch_.resize(head_end);
        else
            scratch_.assign(full, 0, head_end);
        write(scratch_, after);
    };

    switch (st.kind) {
    case step_kind::ok:
        if (a == api::anthropic_count_tokens || a == api::gemini_count_tokens) {
            scratch_ = count_tokens_response(a, body.size());
            if (st.gzip) scratch_ = gzip_response(scratch_);
            return respond(scratch_);
        }
        {
            const std::string& full =
                a == api::other ? canned.ok(a, false, false)
                                : canned.ok(a,
                                            a == api::gemini_stream ? target.find("alt=sse") != std::string_view::npos
                                                                    : wants_stream(body),
                                            a == api::gemini_generate && wants_json_text(body));
            if (!st.gzip) return respond(full);
            scratch_ = gzip_response(full); // `ok;gzip`: the same answer, Content-Encoding: gzip
            return respond(scratch_);
        }
    case step_kind::status: return respond(ctx_.prov.status_bytes(st, family_of(a)));
    case step_kind::refuse: ctx_.prov.refuse(); return abort();
    case step_kind::reset: return abort();
    case step_kind::stall_headers: return stall();
    case step_kind::stall_body: return write(canned.stream_head(a), then::stall);
    case step_kind::stall_mid: {
        const auto& events = canned.events(a);
        scratch_ = canned.stream_head(a);
        for (std::size_t i = 0; i < st.count; ++i) scratch_ += chunk(events[i % events.size()]);
        return write(scratch_, then::stall);
    }
    case step_kind::sse:
        events_left_ = st.count;
        event_seq_ = 0;
        interval_ = st.interval;
        scratch_ =
            chunked_head(200, {{"Content-Type", "text/event-stream; charset=utf-8"}, {"Cache-Control", "no-cache"}});
        return write(scratch_, then::next_event);
    case step_kind::bytes:
        bytes_sent_ = 0;
        bytes_total_ = st.count;
        scratch_ = chunked_head(200, {{"Content-Type", "application/octet-stream"},
                                      {"X-Body-Sha256", ctx_.prov.pattern_sha(st.count)}});
        return write(scratch_, then::next_piece);
    case step_kind::echo: build_echo(); return respond(scratch_);
    case step_kind::bad_framing:
        scratch_ = canned.stream_head(a) + chunk(canned.events(a).front()) + "zz\r\nthis is not chunked framing\r\n";
        return write(scratch_, then::close);
    case step_kind::huge_headers: return respond(ctx_.prov.huge_headers_response());
    case step_kind::close_mid:
        scratch_ = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"partial\":\"";
        scratch_.append(500 - 12, 'x');
        return write(scratch_, then::close);
    case step_kind::redirect: {
        const std::string location = st.location.empty() ? "/redirected" : st.location;
        scratch_ = full_response(st.status, {{"Location", location}, {"Content-Type", "application/json"}},
                                 R"({"redirect":")" + location + R"("})");
        return respond(scratch_);
    }
    }
}

template <class Stream>
void upstream_session<Stream>::write(const std::string& bytes, then next) {
    beast::get_lowest_layer(stream_).expires_after(io_timeout);
    net::async_write(stream_, net::buffer(bytes),
                     [self = this->shared_from_this(), next](const boost::system::error_code& ec, std::size_t) {
                         self->on_write(ec, next);
                     });
}

template <class Stream>
void upstream_session<Stream>::on_write(const boost::system::error_code& ec, then next) {
    if (ec) return abort();
    switch (next) {
    case then::read_next: return do_read();
    case then::close: return close();
    case then::abort: return abort();
    case then::stall: return stall();
    case then::next_event:
        if (event_seq_ == 0 || interval_.count() == 0) return write_event();
        timer_.expires_after(interval_);
        timer_.async_wait([self = this->shared_from_this()](const boost::system::error_code& wait_ec) {
            if (!wait_ec) self->write_event();
        });
        return;
    case then::next_piece: return write_piece();
    case then::answer: return answer();
    }
}

template <class Stream>
void upstream_session<Stream>::write_event() {
    if (events_left_ == 0) return write(last_chunk_text, keep_alive_ ? then::read_next : then::close);
    --events_left_;
    scratch_ = chunk("event: tick\ndata: {\"seq\":" + std::to_string(event_seq_++) + ",\"provider\":\"" +
                     ctx_.prov.name() + "\"}\n\n");
    write(scratch_, then::next_event);
}

template <class Stream>
void upstream_session<Stream>::write_piece() {
    if (bytes_sent_ == bytes_total_) return write(last_chunk_text, keep_alive_ ? then::read_next : then::close);
    const std::size_t n = std::min(piece_size, bytes_total_ - bytes_sent_);
    char size_line[20];
    const int len = std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
    scratch_.assign(size_line, static_cast<std::size_t>(len));
    const std::size_t data_at = scratch_.size();
    scratch_.resize(data_at + n + 2);
    fill_pattern(bytes_sent_, scratch_.data() + data_at, n);
    scratch_[data_at + n] = '\r';
    scratch_[data_at + n + 1] = '\n';
    bytes_sent_ += n;
    write(scratch_, then::next_piece);
}

template <class Stream>
void upstream_session<Stream>::stall() {
    // Keep reading (and ignoring) so a client that gives up is noticed and the socket freed.
    beast::get_lowest_layer(stream_).expires_after(stall_limit);
    stream_.async_read_some(net::buffer(discard_),
                            [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                                if (ec) return self->abort();
                                self->stall();
                            });
}

template <class Stream>
void upstream_session<Stream>::close() {
    // Half-close, then wait (bounded) for the client's FIN: closing with unread input
    // would turn our clean end into a reset.
    boost::system::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
    if (ec) return abort();
    beast::get_lowest_layer(stream_).expires_after(5s);
    drain();
}

template <class Stream>
void upstream_session<Stream>::drain() {
    beast::get_lowest_layer(stream_).socket().async_read_some(
        net::buffer(discard_), [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
            if (!ec) return self->drain();
            boost::system::error_code ignored;
            beast::get_lowest_layer(self->stream_).socket().close(ignored);
        });
}

template <class Stream>
void upstream_session<Stream>::abort() {
    auto& sock = beast::get_lowest_layer(stream_).socket();
    boost::system::error_code ec;
    sock.set_option(net::socket_base::linger(true, 0), ec);
    sock.close(ec);
    timer_.cancel();
}

template <class Stream>
void upstream_session<Stream>::record_request(const step* st, std::chrono::steady_clock::time_point arrived) {
    const auto& req = parser_->get();
    if (ctx_.verbose)
        std::cerr << "fake-upstream: " << ctx_.prov.name() << " conn " << connection_id_ << " #" << requests_ << " "
                  << req.method_string() << " " << req.target() << "\n";
    if (ctx_.rec == nullptr) return;
    boost::json::object line;
    line["provider"] = ctx_.prov.name();
    line["conn"] = connection_id_;
    line["seq"] = requests_ - 1;
    line["tls"] = !std::is_same_v<Stream, beast::tcp_stream>;
    line["method"] = req.method_string();
    line["target"] = req.target();
    boost::json::array headers;
    for (const auto& f : req) headers.push_back(boost::json::array{f.name_string(), f.value()});
    line["headers"] = std::move(headers);
    line["body_length"] = req.body().size();
    line["body_sha256"] = sha256_hex(req.body());
    if (req.body().size() < record_body_limit && valid_utf8(req.body())) line["body"] = req.body();
    line["step"] = st == nullptr ? "websocket-refusal" : step_name(st->kind);
    line["t_ms"] = ctx_.rec->ms_since_start(arrived);
    ctx_.rec->write(line);
}

template <class Stream>
void upstream_session<Stream>::build_echo() {
    const auto& req = parser_->get();
    boost::json::object o;
    o["provider"] = ctx_.prov.name();
    o["method"] = req.method_string();
    o["target"] = req.target();
    boost::json::array headers;
    for (const auto& f : req) headers.push_back(boost::json::array{f.name_string(), f.value()});
    o["headers"] = std::move(headers);
    o["body_length"] = req.body().size();
    o["body_sha256"] = sha256_hex(req.body());
    scratch_ = full_response(200, {{"Content-Type", "application/json"}}, boost::json::serialize(o));
}

template class upstream_session<beast::tcp_stream>;
template class upstream_session<net::ssl::stream<beast::tcp_stream>>;

} // namespace clipal::test::fake_upstream
