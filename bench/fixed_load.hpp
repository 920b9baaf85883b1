// `clipal_bench fixed-load`: an exact number of keep-alive 1 KiB POSTs over a fixed number of
// connections, for the counted figures (bench/count-per-request): instructions, syscalls and
// allocations are divided by a request count that is known, not sampled.
#pragma once

#include "bench/loopback.hpp"

#include <string>

namespace clipal::bench {

// The Anthropic messages request of exactly 1,024 bytes the counted figures send.
std::string kib_body();

// `conns` keep-alive connections (one thread each, started together) send `total` requests
// between them (the remainder goes to the first ones); prints "requests failures" and
// returns 0 when every one answered 200, 2 otherwise.
int run_fixed_load(const target& t, const std::string& path, int conns, int total);

} // namespace clipal::bench
