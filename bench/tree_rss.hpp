// M4's tree RSS: the resident memory of a set of processes with every physical page counted
// once. A supervisor and its workers run one executable with the same libraries, so summing
// their VmRSS counts those pages once per process.
#pragma once

#include <string>
#include <vector>

namespace clipal::bench {

// tree-rss: walks /proc/PID/maps of each pid and reads the frame number of every present page
// from /proc/PID/pagemap; prints the distinct frames in KiB. Pids that are gone are skipped.
// Frame numbers need root: without it prints "nan" and returns 2.
int run_tree_rss(const std::vector<std::string>& pids);

} // namespace clipal::bench
