// Runs the libFuzzer harness (fuzz/qmp_client_fuzz.cpp, compiled into this
// binary with g++) over the seed corpus and over deterministic mutations of
// it, so a build without clang still exercises the harness. A finding shows
// up as a crash, an abort or an escaping exception.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

namespace fs = std::filesystem;

struct Seed {
  std::string name;
  std::string bytes;
};

std::vector<Seed> corpus() {
  std::vector<Seed> seeds;
  for (const auto& entry : fs::directory_iterator(fs::path(VMCTL_SOURCE_DIR) / "fuzz/corpus/qmp")) {
    std::ifstream in(entry.path(), std::ios::binary);
    seeds.push_back({entry.path().filename().string(), {std::istreambuf_iterator<char>(in), {}}});
  }
  std::sort(seeds.begin(), seeds.end(), [](const Seed& a, const Seed& b) { return a.name < b.name; });
  return seeds;
}

void run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

// A few mutations in the spirit of libFuzzer's, biased to JSON syntax.
class Mutator {
 public:
  explicit Mutator(std::uint32_t seed) : rng_(seed) {}

  std::string mutate(std::string input, const std::vector<Seed>& seeds) {
    int count = pick(1, 4);
    for (int i = 0; i < count; ++i) mutate_once(input, seeds);
    return input;
  }

  std::string random_lines() {
    static const char* const kLines[] = {
        R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}})",
        R"({"QMP": {}})", R"({"return": {}})", R"({"error": {"class": "GenericError", "desc": "no"}})",
        R"({"return": {"status": "running", "running": true}})", R"({"return": "text\r\n"})",
        R"({"event": "SHUTDOWN", "data": {"guest": false}, "timestamp": {"seconds": 1, "microseconds": 2}})",
        R"({"event": "STOP"})", R"({"event": 1})", R"({})", "[]", "null", "{", "\"QMP\"", "",
    };
    std::string out(1, static_cast<char>(pick(0, 255)));
    int lines = pick(0, 12);
    for (int i = 0; i < lines; ++i) {
      std::string line = kLines[pick(0, std::size(kLines) - 1)];
      // Give replies an id, usually the next expected one.
      if (line.rfind(R"({"return")", 0) == 0 || line.rfind(R"({"error")", 0) == 0) {
        line.insert(1, R"("id": )" + std::to_string(pick(0, 1) ? i : pick(0, 7)) + ", ");
      }
      out += line + (pick(0, 1) ? "\n" : "\r\n");
    }
    return out;
  }

 private:
  int pick(std::size_t low, std::size_t high) {
    return static_cast<int>(std::uniform_int_distribution<std::size_t>(low, high)(rng_));
  }

  void mutate_once(std::string& s, const std::vector<Seed>& seeds) {
    static const std::string kSyntax = "{}[]\":,\n\r\\ 0-eE.tfn\x80\xff";
    std::size_t at = s.empty() ? 0 : static_cast<std::size_t>(pick(0, s.size() - 1));
    switch (pick(0, 6)) {
      case 0:  // flip a bit
        if (!s.empty()) s[at] = static_cast<char>(s[at] ^ (1 << pick(0, 7)));
        break;
      case 1:  // insert JSON syntax
        s.insert(at, 1, kSyntax[pick(0, kSyntax.size() - 1)]);
        break;
      case 2:  // erase a range
        s.erase(at, pick(1, 16));
        break;
      case 3:  // duplicate a range
        s.insert(at, s.substr(at, pick(1, 64)));
        break;
      case 4:  // truncate
        s.resize(at);
        break;
      case 5: {  // splice in part of another seed
        const std::string& other = seeds[pick(0, seeds.size() - 1)].bytes;
        s.insert(at, other.substr(pick(0, other.size()), pick(1, 200)));
        break;
      }
      default:  // change how the input arrives (byte 0: split or not)
        if (!s.empty()) s[0] = static_cast<char>(pick(0, 255));
        break;
    }
  }

  std::mt19937 rng_;
};

TEST(QmpFuzzReplay, CorpusIsThere) { EXPECT_GE(corpus().size(), 5u); }

TEST(QmpFuzzReplay, Corpus) {
  for (const auto& seed : corpus()) {
    SCOPED_TRACE(seed.name);
    run(seed.bytes);
  }
}

TEST(QmpFuzzReplay, EdgeInputs) {
  run("");
  run("0");
  run("1");
  run(std::string("0\0\0\0", 4));
  run("0" + std::string(60000, '['));                                  // deep nesting
  run("0" + std::string(60000, 'x'));                                  // one long unfinished line
  run("0" + std::string(30000, '\n'));                                 // only blank lines
  run("\x7f" + std::string(60000, '{'));                              // split late
}

TEST(QmpFuzzReplay, MutatedCorpus) {
  auto seeds = corpus();
  ASSERT_FALSE(seeds.empty());
  Mutator mutator(20240601);
  for (int i = 0; i < 3000; ++i) {
    std::string input = mutator.mutate(seeds[static_cast<std::size_t>(i) % seeds.size()].bytes, seeds);
    SCOPED_TRACE(testing::Message() << "mutation #" << i);
    run(input);
  }
}

TEST(QmpFuzzReplay, RandomQmpConversations) {
  Mutator mutator(7);
  for (int i = 0; i < 2000; ++i) {
    SCOPED_TRACE(testing::Message() << "conversation #" << i);
    run(mutator.random_lines());
  }
}

}  // namespace
