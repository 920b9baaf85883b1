// One client request's way through the failover loop (SPEC §4): try the profile's
// providers in the order provider_set gives, retrying the same provider where retry_budget
// allows, rotating keys, until one answers; or answer with the exhausted-providers error
// naming every provider tried and why (or with the first context-length 400, unchanged).
#pragma once

#include "shared/local_response.hpp"
#include "shared/log.hpp"
#include "worker/asio_types.hpp"
#include "worker/profile_runtime.hpp"
#include "worker/request_body.hpp"
#include "worker/retry_budget.hpp"
#include "worker/upstream_attempt.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace clipal::worker {

class client_session;

class forwarder : public std::enable_shared_from_this<forwarder>, public attempt_listener {
public:
    forwarder(std::shared_ptr<client_session> session, std::shared_ptr<profile_runtime> runtime, client_request request,
              std::string rest);
    ~forwarder();

    void start();
    // The client went away: the running attempt closes its upstream connection at once, a
    // pending retry wait ends, and no other provider is tried (nothing would read the answer).
    void abort();

    // The client asked for a streamed answer (SSE), which may stay open for minutes.
    bool streaming() const { return facts_.streaming; }

    // attempt_listener: the running attempt (running_) reports here.
    bool client_keep_alive() override;
    void answer_started(int status) override;
    void attempt_done(attempt_outcome o) override;

private:
    // Tries the first still-available provider from position pos_ of the route.
    void next();
    void launch(std::size_t provider, std::size_t key);
    void on_attempt_done(std::size_t provider, std::size_t key, attempt_outcome o);
    void on_failed(std::size_t provider, std::size_t key, attempt_outcome o);
    void retry_after(duration delay, std::size_t provider, std::size_t key);
    // Position of the next available provider after pos_, or the route's size.
    std::size_t next_position() const;
    std::size_t next_after(std::size_t at) const;
    bool usable(std::size_t provider) const;
    void answer_exhausted();
    void release_probe();
    upstream_request build_request(std::size_t provider, std::size_t key) const;
    void log_failure(std::size_t provider, std::size_t key, const attempt_outcome& o, failure_effect effect,
                     const std::string& next_name);
    std::string key_words(std::size_t provider, std::size_t key) const;
    // Counts the finished request (metrics and a usage.db row): `provider` answered last
    // (none when no provider could), the client got `status` (0: nothing complete).
    void account(std::optional<std::size_t> provider, std::size_t key, int status, const usage_result& usage);
    void on_answer_started(std::size_t provider, int status);

    std::shared_ptr<client_session> session_;
    std::shared_ptr<profile_runtime> runtime_;
    client_request request_;
    std::string rest_;
    lane lane_;
    request_facts facts_; // streaming? which model? (one pass over the body)
    provider_order order_;
    std::size_t pos_ = 0;
    std::optional<std::size_t> probe_; // a fail-back probe this request holds
    retry_budget budget_;
    std::vector<attempt_record> tried_;
    std::optional<local_response> replay_; // the first context-length 400
    std::pair<std::size_t, std::size_t> replay_from_{};
    std::shared_ptr<upstream_attempt> attempt_;
    std::optional<steady_timer> wait_; // a retry's wait
    bool aborted_ = false;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::optional<std::chrono::steady_clock::duration> ttfb_;
    // The attempt running now, for accounting a client that goes away.
    std::optional<std::pair<std::size_t, std::size_t>> running_;
};

} // namespace clipal::worker
