// Runs fuzz targets without libFuzzer (the default compiler is g++): every seed corpus
// file, then a fixed number of deterministic mutations of them (bit flips, truncations,
// length-field edits, splices), so CI gets a short, reproducible fuzz pass under
// ASan/UBSan. `--write-corpus DIR` regenerates the IPC seed corpus.
#include "fuzz/ipc_samples.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using input = std::vector<std::uint8_t>;

std::vector<input> read_corpus(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end()); // deterministic order, whatever the file system does
    std::vector<input> corpus;
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    return corpus;
}

int write_corpus(const std::filesystem::path& dir) {
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

class mutator {
public:
    explicit mutator(std::uint64_t seed) : rng_(seed) {}

    input mutate(const std::vector<input>& corpus) {
        input in = pick(corpus);
        const int rounds = 1 + static_cast<int>(below(4));
        for (int r = 0; r < rounds; ++r) apply(in, corpus);
        return in;
    }

private:
    std::size_t below(std::size_t n) { return n == 0 ? 0 : std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
    const input& pick(const std::vector<input>& corpus) { return corpus[below(corpus.size())]; }

    // Values that sit on the decoders' boundaries.
    std::uint32_t interesting() {
        static constexpr std::uint32_t values[] = {0,
                                                   1,
                                                   2,
                                                   7,
                                                   8,
                                                   63,
                                                   64,
                                                   65,
                                                   255,
                                                   256,
                                                   0x7FFF,
                                                   0xFFFF,
                                                   0x10000,
                                                   128 * 1024,
                                                   128 * 1024 + 1,
                                                   256 * 1024 - 12,
                                                   256 * 1024 - 11,
                                                   0x7FFFFFFF,
                                                   0x80000000,
                                                   0xFFFFFFFF};
        return values[below(std::size(values))];
    }

    void put_u32(input& in, std::size_t at, std::uint32_t v) {
        for (std::size_t i = 0; i < 4 && at + i < in.size(); ++i) in[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
    }

    void apply(input& in, const std::vector<input>& corpus) {
        switch (below(9)) {
        case 0: // bit flip
            if (!in.empty()) in[below(in.size())] ^= static_cast<std::uint8_t>(1u << below(8));
            break;
        case 1: // random byte
            if (!in.empty()) in[below(in.size())] = static_cast<std::uint8_t>(below(256));
            break;
        case 2: // truncate
            in.resize(below(in.size() + 1));
            break;
        case 3: // the frame's payload length
            put_u32(in, 8, below(2) ? interesting() : static_cast<std::uint32_t>(in.size() - 12 + below(3) - 1));
            break;
        case 4: // a length or count field somewhere in the payload
            if (in.size() > 12) put_u32(in, 12 + below(in.size() - 12), interesting());
            break;
        case 5: // the message type
            if (in.size() >= 8) in[6] = static_cast<std::uint8_t>(below(20));
            break;
        case 6: { // splice: a prefix of this, a suffix of another
            const input& other = pick(corpus);
            const std::size_t cut = below(in.size() + 1), from = below(other.size() + 1);
            in.resize(cut);
            in.insert(in.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
            break;
        }
        case 7: { // append another whole frame (a stream of frames)
            const input& other = pick(corpus);
            in.insert(in.end(), other.begin(), other.end());
            break;
        }
        default: { // insert random bytes
            const std::size_t at = below(in.size() + 1), n = 1 + below(16);
            input bytes(n);
            for (auto& b : bytes) b = static_cast<std::uint8_t>(below(256));
            in.insert(in.begin() + static_cast<std::ptrdiff_t>(at), bytes.begin(), bytes.end());
            break;
        }
        }
    }

    std::mt19937_64 rng_;
};

} // namespace

int main(int argc, char** argv) {
    if (argc == 3 && std::string(argv[1]) == "--write-corpus") return write_corpus(argv[2]);
    if (argc < 2 || argc > 4) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR [ITERATIONS [SEED]] | --write-corpus DIR\n", argv[0]);
        return 64;
    }
    const auto corpus = read_corpus(argv[1]);
    if (corpus.empty()) {
        std::fprintf(stderr, "no corpus files in %s\n", argv[1]);
        return 66;
    }
    const unsigned long iterations = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 20000;
    const std::uint64_t seed = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1;

    for (const auto& in : corpus) LLVMFuzzerTestOneInput(in.data(), in.size());
    mutator m(seed);
    for (unsigned long i = 0; i < iterations; ++i) {
        const input in = m.mutate(corpus);
        LLVMFuzzerTestOneInput(in.data(), in.size());
    }
    std::printf("%zu corpus files and %lu mutations (seed %llu): no failures\n", corpus.size(), iterations,
                static_cast<unsigned long long>(seed));
    return 0;
}
