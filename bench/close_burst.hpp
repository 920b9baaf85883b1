// Memory under a burst of short connections: a worker's resident memory before, at the peak
// of, and after COUNT requests that each open and close their own connection.
#pragma once

#include "bench/loopback.hpp"

#include <sys/types.h>

#include <string>

namespace clipal::bench {

// close-burst: POSTs small_body to `path` `count` times, each on a new connection with
// `Connection: close`, from `concurrency` threads, while sampling VmRSS of `pid` every 10 ms;
// then keeps sampling for `settle_ms` of quiet. Prints "<before KiB> <peak KiB> <after KiB>
// <requests not answered 200>"; after = the last sample of the quiet spell.
int run_close_burst(const target& t, const std::string& path, int count, int concurrency, pid_t pid, int settle_ms);

} // namespace clipal::bench
