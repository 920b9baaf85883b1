#include "worker/forwarder.hpp"

#include "shared/route.hpp"
#include "worker/client_session.hpp"
#include "worker/request_rewrite.hpp"

#include <fmt/format.h>

namespace clipal::worker {
namespace {

// A client that accepts no bytes for this long is treated as gone.
constexpr auto client_write_timeout = std::chrono::minutes(5);

std::chrono::steady_clock::duration steady(duration d) {
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(d);
}

} // namespace

forwarder::forwarder(std::shared_ptr<client_session> session, std::shared_ptr<profile_runtime> runtime,
                     http::request<http::string_body> request, std::string rest)
    : session_(std::move(session)),
      runtime_(std::move(runtime)),
      request_(std::move(request)),
      rest_(std::move(rest)),
      lane_(runtime_->providers().lane_for(is_count_tokens(request_.method_string(), rest_))) {}

void forwarder::start() {
    candidates_ = runtime_->providers().candidates(lane_);
    next();
}

void forwarder::abort() {
    if (aborted_) return;
    aborted_ = true;
    if (attempt_) attempt_->abort();
    attempt_.reset();
    session_.reset();
}

std::shared_ptr<const upstream_request> forwarder::build_request(std::size_t provider) const {
    const auto& target = runtime_->target(provider);
    const auto& pc = runtime_->providers().provider(provider);
    const auto host_it = request_.find(http::field::host);
    const forward_context ctx{runtime_->info().proto,
                              pc.auth_header,
                              pc.api_key,
                              target.host_header,
                              session_->client_addr(),
                              host_it == request_.end() ? std::string_view{} : std::string_view(host_it->value())};
    // Expect is dropped too: clipal sends the whole buffered body at once, so asking the
    // upstream for 100-continue would only add a round trip.
    const auto& body = request_.body();
    std::optional<std::uint64_t> length;
    if (!body.empty() || request_.has_content_length() || request_.chunked()) length = body.size();
    auto req = std::make_shared<upstream_request>();
    req->head = upstream_request_head(request_.method_string(), join_target(target.base_path, rest_), request_.base(),
                                      ctx, length);
    req->body = body;
    return req;
}

void forwarder::next() {
    if (aborted_) return;
    if (next_candidate_ >= candidates_.size()) {
        answer_exhausted();
        return;
    }
    const std::size_t provider = candidates_[next_candidate_++];
    auto& log = session_->log();
    const auto tag = runtime_->info().tag;
    log.debug(tag, "forwarding to: {}", runtime_->providers().provider(provider).name);

    const auto& g = runtime_->global();
    const attempt_settings settings{connect_timeouts{}, steady(g.response_header_timeout),
                                    steady(g.upstream_idle_timeout), steady(client_write_timeout), session_->now()};
    auto self = shared_from_this();
    attempt_ = std::make_shared<upstream_attempt>(
        session_->socket(), session_->pool(), runtime_->target(provider), build_request(provider),
        request_.method() == http::verb::head,
        [self] { return self->request_.keep_alive() && !self->session_->draining(); }, request_.version(), settings,
        [self, provider](int) { self->runtime_->providers().record_success(provider, self->lane_); },
        [self, provider](attempt_outcome o) { self->on_attempt_done(provider, o); });
    attempt_->start();
}

void forwarder::log_failure(std::size_t provider, const attempt_outcome& o, failure_effect effect,
                            const std::string& next_name) {
    auto& log = session_->log();
    const auto tag = runtime_->info().tag;
    const auto& name = runtime_->providers().provider(provider).name;
    std::string why = o.detail;
    if (o.v.reason) why += fmt::format(" ({})", to_string(*o.v.reason));
    if (next_name.empty())
        log.warn(tag, "{} failed: {}, no more providers to try", name, why);
    else
        log.warn(tag, "{} failed: {}, switching to {}", name, why, next_name);
    if (effect == failure_effect::deactivated)
        log.warn(tag, "{} deactivated for {}", name, format_duration(runtime_->global().reactivate_after));
    else if (effect == failure_effect::cooling && o.v.cooldown)
        log.info(tag, "{} cooling down for {}", name, format_duration(*o.v.cooldown));
}

void forwarder::on_attempt_done(std::size_t provider, const attempt_outcome& o) {
    attempt_.reset();
    if (aborted_) return;
    auto& log = session_->log();
    const auto tag = runtime_->info().tag;
    const auto& name = runtime_->providers().provider(provider).name;
    switch (o.what) {
    case attempt_outcome::kind::failed: {
        const auto effect = runtime_->providers().record_failure(provider, lane_, o.v);
        session_->providers_changed();
        tried_.push_back({provider, o.v.reason.value_or(failure_reason::bad_response), o.status, o.detail});
        // Providers deactivated by this very failure drop out of the rest of the order.
        while (next_candidate_ < candidates_.size() && !runtime_->providers().available(candidates_[next_candidate_]))
            ++next_candidate_;
        const std::string next_name = next_candidate_ < candidates_.size()
                                          ? runtime_->providers().provider(candidates_[next_candidate_]).name
                                          : std::string();
        log_failure(provider, o, effect, next_name);
        next();
        return;
    }
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

void forwarder::answer_exhausted() {
    // send_error drops the session's reference to this forwarder; when no candidate was
    // tried (start() got here directly), that was the last one.
    const auto self = shared_from_this();
    const auto answer = runtime_->providers().when_exhausted(tried_);
    // With every provider deactivated or cooling, nothing was tried: these answers cost
    // nothing and come at the clients' rate.
    if (tried_.empty())
        session_->log_fault(log_level::warn, "requests while no provider is available", runtime_->info().tag,
                            "no provider could answer: {}", answer.message);
    else
        session_->log().warn(runtime_->info().tag, "no provider could answer: {}", answer.message);
    session_->send_error(answer.status, answer.message, answer.retry_after);
    session_.reset();
}

} // namespace clipal::worker
