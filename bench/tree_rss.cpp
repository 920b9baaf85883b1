// M4's tree RSS from /proc/PID/pagemap (see tree_rss.hpp).
#include "bench/tree_rss.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <unordered_set>

namespace clipal::bench {

int run_tree_rss(const std::vector<std::string>& pids) {
    const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
    std::unordered_set<std::uint64_t> frames;
    std::vector<std::uint64_t> entries(4096);
    for (const auto& pid : pids) {
        std::ifstream maps("/proc/" + pid + "/maps");
        int pagemap = ::open(("/proc/" + pid + "/pagemap").c_str(), O_RDONLY | O_CLOEXEC);
        if (!maps || pagemap < 0) {
            continue; // the process is gone
        }
        std::string line;
        while (std::getline(maps, line)) {
            std::uint64_t start = 0;
            std::uint64_t end = 0;
            if (std::sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64, &start, &end) != 2 ||
                line.find("[vsyscall]") != std::string::npos) {
                continue;
            }
            for (std::uint64_t vpage = start / page; vpage < end / page;) {
                const auto n = std::min<std::uint64_t>(entries.size(), end / page - vpage);
                const auto got = ::pread(pagemap, entries.data(), n * sizeof(std::uint64_t),
                                         static_cast<off_t>(vpage * sizeof(std::uint64_t)));
                if (got <= 0) {
                    break;
                }
                for (std::size_t i = 0; i < static_cast<std::size_t>(got) / sizeof(std::uint64_t); ++i) {
                    const auto e = entries[i];
                    if ((e >> 63) & 1) { // present (bit 63); frame number in bits 0-54
                        const auto frame = e & ((std::uint64_t{1} << 55) - 1);
                        if (frame == 0) {
                            std::fprintf(stderr, "clipal_bench: tree-rss needs root to read frame numbers\n");
                            ::close(pagemap);
                            std::printf("nan\n");
                            return 2;
                        }
                        frames.insert(frame);
                    }
                }
                vpage += n;
            }
        }
        ::close(pagemap);
    }
    std::printf("%llu\n", static_cast<unsigned long long>(frames.size() * page / 1024));
    return 0;
}

} // namespace clipal::bench
