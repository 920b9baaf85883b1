// Runs a fuzz target without libFuzzer (the default compiler is g++): every seed corpus
// file, then a fixed number of deterministic mutations of them (bit flips, truncations,
// length-field edits, splices, copied chunks), so CI gets a short, reproducible fuzz pass
// under ASan/UBSan. Linked with each target's LLVMFuzzerTestOneInput.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using input = std::vector<std::uint8_t>;

// The input being run, for the SIGABRT handler: a failing mutation is saved to a file that
// libFuzzer or this driver can replay (a signal handler can reach nothing but globals).
const input* running = nullptr;
constexpr char failure_file[] = "fuzz-failure.bin";

void save_running_input(int) {
    if (running != nullptr) {
        const int fd = ::open(failure_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            [[maybe_unused]] const auto n = ::write(fd, running->data(), running->size());
            ::close(fd);
            constexpr char note[] = "fuzz driver: the failing input is in ./fuzz-failure.bin\n";
            [[maybe_unused]] const auto m = ::write(2, note, sizeof note - 1);
        }
    }
    std::signal(SIGABRT, SIG_DFL);
    std::raise(SIGABRT);
}

void run(const input& in) {
    running = &in;
    LLVMFuzzerTestOneInput(in.data(), in.size());
    running = nullptr;
}

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
        switch (below(11)) {
        case 0: // bit flip
            if (!in.empty()) in[below(in.size())] ^= static_cast<std::uint8_t>(1u << below(8));
            break;
        case 1: // random byte
            if (!in.empty()) in[below(in.size())] = static_cast<std::uint8_t>(below(256));
            break;
        case 2: // truncate
            in.resize(below(in.size() + 1));
            break;
        case 3: // an IPC frame's payload length
            put_u32(in, 8, below(2) ? interesting() : static_cast<std::uint32_t>(in.size() - 12 + below(3) - 1));
            break;
        case 4: // a length or count field somewhere in the payload
            if (in.size() > 12) put_u32(in, 12 + below(in.size() - 12), interesting());
            break;
        case 5: // an IPC frame's message type
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
        case 8: // repeat a chunk of this input in place (a header twice, nested YAML, ...)
            if (!in.empty()) {
                const std::size_t from = below(in.size()), n = 1 + below(std::min<std::size_t>(in.size() - from, 64));
                const input chunk(in.begin() + static_cast<std::ptrdiff_t>(from),
                                  in.begin() + static_cast<std::ptrdiff_t>(from + n));
                in.insert(in.begin() + static_cast<std::ptrdiff_t>(from), chunk.begin(), chunk.end());
            }
            break;
        case 9: { // a chunk of another seed inserted here: tokens of text formats
            const input& other = pick(corpus);
            if (other.empty()) break;
            const std::size_t from = below(other.size()), n = 1 + below(std::min<std::size_t>(other.size() - from, 32));
            in.insert(in.begin() + static_cast<std::ptrdiff_t>(below(in.size() + 1)),
                      other.begin() + static_cast<std::ptrdiff_t>(from),
                      other.begin() + static_cast<std::ptrdiff_t>(from + n));
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
    if (argc < 2 || argc > 4) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR [ITERATIONS [SEED]]\n", argv[0]);
        return 64;
    }
    const auto corpus = read_corpus(argv[1]);
    if (corpus.empty()) {
        std::fprintf(stderr, "no corpus files in %s\n", argv[1]);
        return 66;
    }
    const unsigned long iterations = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 20000;
    const std::uint64_t seed = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1;

    std::signal(SIGABRT, save_running_input);
    for (const auto& in : corpus) run(in);
    mutator m(seed);
    for (unsigned long i = 0; i < iterations; ++i) {
        const input in = m.mutate(corpus);
        run(in);
    }
    std::printf("%zu corpus files and %lu mutations (seed %llu): no failures\n", corpus.size(), iterations,
                static_cast<unsigned long long>(seed));
    return 0;
}
