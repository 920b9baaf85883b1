#include "worker/forwarder.hpp"

#include "shared/route.hpp"
#include "worker/client_session.hpp"
#include "worker/request_body.hpp"
#include "worker/request_rewrite.hpp"

#include <fmt/format.h>

#include <chrono>

namespace clipal::worker {
namespace {

// A client that accepts no bytes for this long is treated as gone.
constexpr auto client_write_timeout = std::chrono::minutes(5);

std::chrono::steady_clock::duration steady(duration d) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
}

// The key's own trouble, which another key of the same provider may not have.
bool key_level(failure_reason r) {
    return r == failure_reason::auth || r == failure_reason::billing || r == failure_reason::quota ||
           r == failure_reason::rate_limited;
}

// A jitter seed that costs no system call: the request's address and the time.
std::uint32_t seed_for(const void* p) {
    const auto t = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return static_cast<std::uint32_t>(t ^ (t >> 32) ^ reinterpret_cast<std::uintptr_t>(p));
}

retry_settings retries_of(const global_config& g) { return {g.retries_per_provider, g.max_inline_wait}; }

} // namespace

forwarder::forwarder(std::shared_ptr<client_session> session, std::shared_ptr<profile_runtime> runtime,
                     client_request request, std::string rest)
    : session_(std::move(session)),
      runtime_(std::move(runtime)),
      request_(std::move(request)),
      rest_(std::move(rest)),
      lane_(runtime_->providers().lane_for(is_count_tokens(request_.method_string(), rest_))),
      facts_(inspect_request(runtime_->info().proto, request_.method_string(), rest_, request_.body())),
      budget_(retries_of(runtime_->global()), seed_for(this)) {}

forwarder::~forwarder() { release_probe(); }

void forwarder::release_probe() {
    if (probe_) runtime_->providers().end_probe(*probe_);
    probe_.reset();
}

void forwarder::start() {
    auto route = runtime_->providers().route_for(lane_);
    order_ = std::move(route.order);
    probe_ = route.probe;
    next();
}

void forwarder::abort() {
    if (aborted_) return;
    aborted_ = true;
    if (wait_) wait_->cancel();
    if (running_ && session_) {
        const auto [provider, key] = *running_;
        session_->metrics().on_attempt(runtime_->metric_id(provider), attempt_result::client_closed);
        account(provider, key, 0, {});
    }
    if (attempt_) attempt_->abort();
    attempt_.reset();
    release_probe();
    session_.reset();
}

upstream_request forwarder::build_request(std::size_t provider, std::size_t key) const {
    const auto& target = runtime_->target(provider);
    const auto& pc = runtime_->providers().provider(provider);
    const auto proto = runtime_->info().proto;
    const forward_context ctx{proto,
                              pc.auth_header,
                              runtime_->providers().key(provider, key),
                              target.host_header,
                              session_->client_addr(),
                              request_[http::field::host]};
    upstream_request req;
    // A model override changes the model and nothing else; a body or path without one goes as sent.
    std::optional<std::string> rest;
    if (!pc.model.empty()) {
        if (proto == protocol::gemini)
            rest = gemini_rest_with_model(rest_, pc.model);
        else if (auto body = body_with_model(request_.body(), pc.model))
            req.owned_body = std::move(*body);
    }
    req.client_body = request_.body();
    req.own = !pc.model.empty() && proto != protocol::gemini && !req.owned_body.empty();
    // Expect is dropped too: clipal sends the whole buffered body at once, so asking the
    // upstream for 100-continue would only add a round trip.
    std::optional<std::uint64_t> length;
    if (!req.body().empty() || request_.has_content_length() || request_.chunked()) length = req.body().size();
    req.head = upstream_request_head(request_.method_string(), join_target(target.base_path, rest ? *rest : rest_),
                                     request_, ctx, length);
    return req;
}

std::size_t forwarder::next_position() const { return next_after(pos_); }

std::size_t forwarder::next_after(std::size_t at) const {
    auto p = at + 1;
    while (p < order_.size() && !usable(order_[p])) ++p;
    return p;
}

bool forwarder::usable(std::size_t provider) const {
    // Providers that became unavailable since the route was made are skipped; an open breaker
    // is no reason to give up on a provider when it is all there is (see candidates()).
    return runtime_->providers().available(provider) || runtime_->providers().only_breaker_open(provider);
}

void forwarder::next() {
    if (aborted_) return;
    while (pos_ < order_.size() && !usable(order_[pos_])) ++pos_;
    if (pos_ >= order_.size() || budget_.spent()) {
        answer_exhausted();
        return;
    }
    const auto provider = order_[pos_];
    launch(provider, runtime_->providers().key_for(provider));
}

void forwarder::launch(std::size_t provider, std::size_t key) {
    if (aborted_) return;
    session_->log().debug(runtime_->info().tag, "forwarding to: {}{}", runtime_->providers().provider(provider).name,
                          key_words(provider, key));
    const auto& g = runtime_->global();
    attempt_settings settings{connect_timeouts{}, steady(g.response_header_timeout), steady(g.upstream_idle_timeout),
                              steady(client_write_timeout), session_->now()};
    if (facts_.streaming) settings.first_byte_timeout = steady(g.stream_first_byte_timeout);
    budget_.attempt_started(provider, key, session_->now());
    running_.emplace(provider, key);
    auto& pool = session_->pool();
    attempt_ =
        std::allocate_shared<upstream_attempt>(pool_allocator<upstream_attempt>(&pool.blocks()), session_->socket(),
                                               pool, runtime_->target(provider), build_request(provider, key),
                                               request_.method() == http::verb::head, request_.version(), settings,
                                               shared_from_this());
    attempt_->start();
}

bool forwarder::client_keep_alive() { return request_.keep_alive() && !session_->draining(); }

void forwarder::answer_started(int status) {
    if (running_) on_answer_started(running_->first, status);
}

void forwarder::attempt_done(attempt_outcome o) {
    if (!running_) return; // aborted meanwhile
    const auto [provider, key] = *running_;
    on_attempt_done(provider, key, std::move(o));
}

std::string forwarder::key_words(std::size_t provider, std::size_t key) const {
    if (runtime_->providers().key_count(provider) < 2) return {};
    return fmt::format(" (key {})", runtime_->providers().key_fingerprint(provider, key));
}

void forwarder::log_failure(std::size_t provider, std::size_t key, const attempt_outcome& o, failure_effect effect,
                            const std::string& next_name) {
    auto& log = session_->log();
    const auto tag = runtime_->info().tag;
    const auto name = runtime_->providers().provider(provider).name + key_words(provider, key);
    std::string why = o.detail;
    if (o.v.reason) why += fmt::format(" ({})", to_string(*o.v.reason));
    if (next_name.empty())
        log.warn(tag, "{} failed: {}, no more providers to try", name, why);
    else
        log.warn(tag, "{} failed: {}, switching to {}", name, why, next_name);
    const auto& g = runtime_->global();
    switch (effect) {
    case failure_effect::deactivated:
        log.warn(tag, "{} deactivated for {}", name, format_duration(g.reactivate_after));
        break;
    case failure_effect::cooling:
        if (o.v.cooldown) log.info(tag, "{} cooling down for {}", name, format_duration(*o.v.cooldown));
        break;
    case failure_effect::opened:
        log.info(tag, "{} is skipped for {}, then tried first again", name,
                 format_duration(breaker_backoff(runtime_->providers().consecutive_failures(provider))));
        break;
    case failure_effect::none: break;
    }
}

void forwarder::on_answer_started(std::size_t provider, int status) {
    ttfb_ = std::chrono::steady_clock::now() - started_;
    auto& providers = runtime_->providers();
    // Only a 2xx makes a provider current; a 404 or a 400 says nothing about its health.
    if (status / 100 == 2) {
        const auto before = providers.current(lane::main);
        providers.record_success(provider, lane_);
        if (providers.lane_for(false) == lane_ && before != provider)
            session_->metrics().on_switch(
                std::chrono::duration_cast<std::chrono::milliseconds>(session_->now().time_since_epoch()).count(),
                runtime_->metric_id(before), runtime_->metric_id(provider),
                tried_.empty() ? std::string_view("failback") : snake_name(tried_.back().reason));
    } else {
        providers.record_answer(provider);
    }
    if (probe_ == provider) probe_.reset();
}

void forwarder::account(std::optional<std::size_t> provider, std::size_t key, int status, const usage_result& usage) {
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    const auto total = std::chrono::steady_clock::now() - started_;
    const auto& t = usage.tokens;
    session_->metrics().on_request_done(provider ? runtime_->metric_id(*provider) : worker_metrics::no_provider, status,
                                        ttfb_, total, {t.input, t.output, t.cache_read, t.cache_write});
    // Views: the row is encoded at once (add_usage), so nothing here is copied.
    usage_row_view r;
    r.time_ms = duration_cast<milliseconds>(session_->now().time_since_epoch()).count();
    r.profile = runtime_->info().name;
    if (provider) {
        const auto& pc = runtime_->providers().provider(*provider);
        r.provider = pc.name;
        r.key_fingerprint = runtime_->providers().key_fingerprint(*provider, key);
        r.model = !pc.model.empty() ? std::string_view(pc.model)
                  : facts_.model    ? std::string_view(*facts_.model)
                                    : std::string_view(usage.model);
    }
    r.status = status;
    r.attempts = static_cast<std::uint32_t>(budget_.attempts());
    if (ttfb_) r.ttfb_ms = static_cast<std::uint32_t>(duration_cast<milliseconds>(*ttfb_).count());
    r.duration_ms = static_cast<std::uint32_t>(duration_cast<milliseconds>(total).count());
    r.input_tokens = t.input;
    r.output_tokens = t.output;
    r.cache_read_tokens = t.cache_read;
    r.cache_write_tokens = t.cache_write;
    auto& m = session_->metrics();
    m.add_usage(r);
    if (m.pending_usage_rows() >= usage_rows_per_report) session_->report_due();
}

void forwarder::on_attempt_done(std::size_t provider, std::size_t key, attempt_outcome o) {
    attempt_.reset();
    running_.reset();
    if (aborted_) return;
    const auto mid = runtime_->metric_id(provider);
    if (o.what == attempt_outcome::kind::completed)
        session_->metrics().on_attempt(mid, attempt_result::ok);
    else if (o.what == attempt_outcome::kind::aborted)
        session_->metrics().on_attempt(mid, failure_reason::reset);
    else
        session_->metrics().on_attempt(mid, o.v.reason.value_or(failure_reason::bad_response));
    if (o.what != attempt_outcome::kind::failed)
        account(provider, key, o.what == attempt_outcome::kind::completed ? o.status : 0, o.usage);
    auto& log = session_->log();
    const auto tag = runtime_->info().tag;
    const auto& name = runtime_->providers().provider(provider).name;
    switch (o.what) {
    case attempt_outcome::kind::failed: on_failed(provider, key, std::move(o)); return;
    case attempt_outcome::kind::completed:
        log.info(tag, "request completed via {}", name);
        session_->request_done(o.client_keep_alive);
        break;
    case attempt_outcome::kind::aborted:
        log.error(tag, "response from {} broke off after {} body bytes: {}; aborting the client connection", name,
                  o.bytes, o.detail);
        session_->abort_connection();
        break;
    }
    session_.reset();
}

void forwarder::on_failed(std::size_t provider, std::size_t key, attempt_outcome o) {
    auto& providers = runtime_->providers();
    auto& log = session_->log();
    const auto tag = runtime_->info().tag;
    const auto name = providers.provider(provider).name + key_words(provider, key);
    const bool probe = probe_ == provider;
    const auto reason = o.v.reason.value_or(failure_reason::bad_response);

    if (reason == failure_reason::context_length) {
        // Not the provider's fault: nothing is marked, the next provider may fit the prompt.
        providers.record_answer(provider);
        if (probe) probe_.reset();
        if (!replay_ && o.replay) {
            replay_ = std::move(o.replay);
            replay_from_ = {provider, key};
        }
        const auto at = next_position();
        if (at < order_.size()) session_->metrics().on_failover(runtime_->metric_id(provider), reason);
        if (at < order_.size())
            log.info(tag, "{} answered {} ({}), trying {} in case its model takes more", name, o.status,
                     to_string(reason), providers.provider(order_[at]).name);
        pos_ = at;
        next();
        return;
    }

    std::size_t others_left = 0;
    for (auto p = next_position(); p < order_.size(); p = next_after(p)) ++others_left;
    const auto d = budget_.after_failure(provider, key, o.v, o.status, probe, session_->now(), others_left);
    if (d.what == retry_budget::decision::kind::retry_same) {
        std::string why = o.detail;
        if (o.v.reason) why += fmt::format(" ({})", to_string(*o.v.reason));
        if (d.inline_wait)
            log.info(tag, "{} answered {}, asking to wait {}; waiting, then asking it again", name, why,
                     format_duration(*o.v.cooldown));
        else
            log.warn(tag, "{} failed: {}, retrying it in {} ms", name, why,
                     std::chrono::duration_cast<std::chrono::milliseconds>(d.delay).count());
        retry_after(d.delay, provider, key);
        return;
    }

    const auto effect = providers.record_failure(provider, key, lane_, o.v);
    if (probe) probe_.reset();
    session_->providers_changed();
    tried_.push_back({provider, reason, o.status, o.detail});
    // A key's own trouble: the provider's next key comes before the next provider.
    if (key_level(reason) && !budget_.spent() && usable(provider)) {
        const auto next_key = providers.key_for(provider);
        if (next_key != key) {
            session_->metrics().on_failover(runtime_->metric_id(provider), reason);
            log_failure(provider, key, o, effect,
                        fmt::format("{}'s next key {}", providers.provider(provider).name,
                                    providers.key_fingerprint(provider, next_key)));
            launch(provider, next_key);
            return;
        }
    }
    const auto at = budget_.spent() ? order_.size() : next_position();
    if (at < order_.size()) session_->metrics().on_failover(runtime_->metric_id(provider), reason);
    log_failure(provider, key, o, effect, at < order_.size() ? providers.provider(order_[at]).name : std::string());
    pos_ = at;
    next();
}

void forwarder::retry_after(duration delay, std::size_t provider, std::size_t key) {
    // Made on first use: most requests never wait (a timer's construction takes a lock).
    if (!wait_) wait_.emplace(session_->socket().get_executor());
    wait_->expires_after(steady(delay));
    wait_->async_wait([self = shared_from_this(), provider, key](boost::system::error_code ec) {
        if (ec || self->aborted_) return;
        self->launch(provider, key);
    });
}

void forwarder::answer_exhausted() {
    // send_error drops the session's reference to this forwarder; when no candidate was
    // tried (start() got here directly), that was the last one.
    const auto self = shared_from_this();
    const auto tag = runtime_->info().tag;
    if (replay_) {
        session_->log().warn(tag, "no provider could serve a prompt that long; the client gets the first {} as it was",
                             replay_->status);
        account(replay_from_.first, replay_from_.second, replay_->status, {});
        session_->send_answer(*replay_);
        session_.reset();
        return;
    }
    const auto answer = runtime_->providers().when_exhausted(tried_);
    // With every provider deactivated or cooling, nothing was tried: these answers cost
    // nothing and come at the clients' rate.
    if (tried_.empty())
        session_->log_fault(log_level::warn, "requests while no provider is available", tag,
                            "no provider could answer: {}", answer.message);
    else if (budget_.spent())
        session_->log().warn(tag, "no provider could answer within {} attempts: {}", max_attempts_per_request,
                             answer.message);
    else
        session_->log().warn(tag, "no provider could answer: {}", answer.message);
    account(std::nullopt, 0, answer.status, {});
    session_->send_error(answer.status, answer.message, answer.retry_after);
    session_.reset();
}

} // namespace clipal::worker
