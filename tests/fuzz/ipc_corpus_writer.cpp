// Regenerates the IPC seed corpus from ipc_samples.hpp, so the seeds are exactly what the
// codec tests round-trip: `fuzz_ipc_write_corpus tests/fuzz/corpus/ipc` after a format change
// (Messages.FuzzSeedCorpusMatchesTheCurrentEncoding says when).
#include "fuzz/ipc_samples.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 64;
    }
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    std::size_t i = 0;
    for (const auto& m : clipal::test::sample_messages()) {
        const auto e = clipal::ipc::encode(m);
        const auto name = std::to_string(i++) + "-" + std::string(to_string(type_of(m))) + ".bin";
        std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(e.frame.data()), static_cast<std::streamsize>(e.frame.size()));
    }
    // The config parser also sees the raw input, so give it a valid document to mutate.
    std::ofstream(dir / "config.json", std::ios::trunc) << clipal::ipc::to_json(clipal::test::sample_worker_config());
    std::printf("wrote %zu frames and config.json to %s\n", i, dir.c_str());
    return 0;
}
