// One client request's way through the failover loop (SPEC §4): try the profile's
// providers in order from the current one, each at most once, until one answers; or
// answer with the exhausted-providers error naming every provider tried and why.
#pragma once

#include "shared/log.hpp"
#include "worker/profile_runtime.hpp"
#include "worker/upstream_attempt.hpp"

#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace clipal::worker {

class client_session;

class forwarder : public std::enable_shared_from_this<forwarder> {
public:
    forwarder(std::shared_ptr<client_session> session, std::shared_ptr<profile_runtime> runtime,
              http::request<http::string_body> request, std::string rest);

    void start();
    // The client went away: the running attempt closes its upstream connection at once
    // and no other provider is tried (nothing would read the answer).
    void abort();

private:
    void next();
    void on_attempt_done(std::size_t provider, const attempt_outcome& o);
    void answer_exhausted();
    std::shared_ptr<const upstream_request> build_request(std::size_t provider) const;
    void log_failure(std::size_t provider, const attempt_outcome& o, failure_effect effect,
                     const std::string& next_name);

    std::shared_ptr<client_session> session_;
    std::shared_ptr<profile_runtime> runtime_;
    http::request<http::string_body> request_;
    std::string rest_;
    lane lane_;
    std::vector<std::size_t> candidates_;
    std::size_t next_candidate_ = 0;
    std::vector<attempt_record> tried_;
    std::shared_ptr<upstream_attempt> attempt_;
    bool aborted_ = false;
};

} // namespace clipal::worker
