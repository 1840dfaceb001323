// os::write_file_atomic and friends: a writer killed at any instant leaves the
// old content or the new one, never a mix.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>

#include "os/files.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::os {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using vmctl::test::TempDir;

// A forked child, killed and reaped on destruction whatever happens to the test.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() { kill_and_reap(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Returns the wait status.
  int kill_and_reap() {
    int status = 0;
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      pid_ = -1;
    }
    return status;
  }

 private:
  pid_t pid_;
};

// A valid JSON document of at least `size` bytes whose every part depends on `tag`.
std::string big_document(char tag, std::size_t size) {
  json doc = {{"tag", std::string(1, tag)}, {"items", json::array()}};
  std::size_t estimate = 0;
  for (std::size_t i = 0; estimate < size; ++i) {
    json item = {{"index", i}, {"tag", std::string(1, tag)}, {"text", std::string(200, tag)}};
    estimate += item.dump().size();
    doc["items"].push_back(std::move(item));
  }
  return doc.dump(2) + "\n";
}

mode_t file_mode(const fs::path& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(AtomicWrite, SurvivesSigkillAtAnyInstant) {
  TempDir temp;
  const fs::path target = temp / "vm.json";
  const std::string docs[2] = {big_document('a', 200 * 1024), big_document('b', 200 * 1024)};
  ASSERT_NE(docs[0], docs[1]);
  ASSERT_GT(docs[0].size(), 200u * 1024);
  const json parsed[2] = {json::parse(docs[0]), json::parse(docs[1])};

  write_file_atomic(target, docs[0]);
  std::mt19937 rng(20240229);  // fixed seed: the same delays on every run
  std::uniform_int_distribution<int> delay_us(0, 20000);
  int saw[2] = {0, 0};
  for (int round = 0; round < 40; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) {
      // The child: rewrite forever, alternating the documents. Only _exit.
      try {
        for (unsigned i = 1;; ++i) write_file_atomic(target, docs[i % 2]);
      } catch (...) {
      }
      ::_exit(3);
    }
    Child child(pid);
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
    int status = child.kill_and_reap();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the writer stopped by itself (status " << status << "): write_file_atomic raised";

    auto text = read_file(target);
    ASSERT_TRUE(text.has_value()) << "the file vanished";
    bool is_a = *text == docs[0];
    bool is_b = *text == docs[1];
    ASSERT_TRUE(is_a || is_b) << "torn file of " << text->size() << " bytes";
    json j;
    ASSERT_NO_THROW(j = json::parse(*text));
    EXPECT_EQ(j, parsed[is_a ? 0 : 1]);
    saw[is_a ? 0 : 1] += 1;

    // Whatever else is there is a temp file the killed writer left.
    for (const auto& entry : fs::directory_iterator(temp.path())) {
      std::string name = entry.path().filename().string();
      if (name == "vm.json") continue;
      EXPECT_TRUE(is_temp_file_name(name)) << "unexpected file " << name;
      EXPECT_EQ(name.rfind("vm.json", 0), 0u) << "a temp file not named after its target: " << name;
      fs::remove(entry.path());
    }
  }
  // Not a requirement, just a sign the kills landed at different points.
  RecordProperty("saw_a", saw[0]);
  RecordProperty("saw_b", saw[1]);
}

TEST(AtomicWrite, ReplacesContentAndLeavesNoTempFile) {
  TempDir temp;
  const fs::path target = temp / "data.json";
  write_file_atomic(target, "first");
  EXPECT_EQ(read_file(target), "first");
  write_file_atomic(target, "second, longer than the first");
  EXPECT_EQ(read_file(target), "second, longer than the first");
  write_file_atomic(target, "");
  EXPECT_EQ(read_file(target), "");
  std::string binary("\0\xff\n\r", 4);
  write_file_atomic(target, binary);
  EXPECT_EQ(read_file(target), binary);
  int files = 0;
  for (const auto& entry : fs::directory_iterator(temp.path())) {
    EXPECT_EQ(entry.path().filename(), "data.json");
    files += 1;
  }
  EXPECT_EQ(files, 1);
}

TEST(AtomicWrite, FileModeIsAsRequested) {
  TempDir temp;
  mode_t old_umask = ::umask(022);
  write_file_atomic(temp / "default", "x");
  write_file_atomic(temp / "0640", "x", 0640);
  write_file_atomic(temp / "0644", "x", 0644);
  write_file_atomic(temp / "0400", "x", 0400);
  // Replacing a file gives it the requested mode, not the old one's.
  write_file_atomic(temp / "replaced", "x", 0644);
  write_file_atomic(temp / "replaced", "y", 0600);
  ::umask(old_umask);
  EXPECT_EQ(file_mode(temp / "default"), 0600u);
  EXPECT_EQ(file_mode(temp / "0640"), 0640u);
  EXPECT_EQ(file_mode(temp / "0644"), 0644u);
  EXPECT_EQ(file_mode(temp / "0400"), 0400u);
  EXPECT_EQ(file_mode(temp / "replaced"), 0600u);
  EXPECT_EQ(read_file(temp / "replaced"), "y");
}

TEST(AtomicWrite, MissingFolderRaisesStoreIo) {
  TempDir temp;
  try {
    write_file_atomic(temp / "no" / "such" / "file", "x");
    FAIL() << "wrote into a missing folder";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::store_io);
    EXPECT_FALSE(e.help().empty());
  }
  EXPECT_FALSE(fs::exists(temp / "no"));
}

TEST(AtomicWrite, TargetThatIsAFolderRaisesAndLeavesNoTempFile) {
  TempDir temp;
  fs::create_directory(temp / "dir");
  EXPECT_THROW(write_file_atomic(temp / "dir", "x"), Error);
  EXPECT_TRUE(fs::is_directory(temp / "dir"));
  for (const auto& entry : fs::directory_iterator(temp.path())) {
    EXPECT_EQ(entry.path().filename(), "dir") << "left behind: " << entry.path();
  }
}

TEST(ReadFile, MissingFileIsNullopt) {
  TempDir temp;
  EXPECT_EQ(read_file(temp / "missing"), std::nullopt);
  EXPECT_EQ(read_file(temp / "missing-dir" / "file"), std::nullopt);
  // A component that is a regular file (ENOTDIR) is as missing.
  write_file_atomic(temp / "plain", "x");
  EXPECT_EQ(read_file(temp / "plain" / "child"), std::nullopt);
}

TEST(ReadFile, EmptyAndLargeFiles) {
  TempDir temp;
  write_file_atomic(temp / "empty", "");
  EXPECT_EQ(read_file(temp / "empty"), std::string());
  std::string big = big_document('z', 100 * 1024);  // more than one read buffer
  write_file_atomic(temp / "big", big);
  EXPECT_EQ(read_file(temp / "big"), big);
}

TEST(ReadFile, FolderRaisesStoreIo) {
  TempDir temp;
  try {
    read_file(temp.path());
    FAIL() << "read a folder";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::store_io);
  }
}

TEST(MakeDir, CreatesWithModeAndReportsExisting) {
  TempDir temp;
  mode_t old_umask = ::umask(022);
  EXPECT_TRUE(make_dir(temp / "d"));
  EXPECT_FALSE(make_dir(temp / "d"));
  EXPECT_TRUE(make_dir(temp / "e", 0750));
  ::umask(old_umask);
  EXPECT_EQ(file_mode(temp / "d"), 0700u);
  EXPECT_EQ(file_mode(temp / "e"), 0750u);
  write_file_atomic(temp / "file", "x");
  EXPECT_THROW(make_dir(temp / "file"), Error);
  EXPECT_THROW(make_dir(temp / "missing" / "d"), Error);
}

TEST(TempFileName, RecognisesWhatAWriterInProgressLeaves) {
  TempDir temp;
  const fs::path target = temp / "vm.json";
  const std::string doc = big_document('t', 8 * 1024 * 1024);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    try {
      for (;;) write_file_atomic(target, doc);
    } catch (...) {
    }
    ::_exit(3);
  }
  Child child(pid);
  // The only names besides the target are the writer's temp files; catch one.
  std::string seen;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (seen.empty() && std::chrono::steady_clock::now() < deadline) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(temp.path(), ec)) {
      std::string name = entry.path().filename().string();
      if (name != "vm.json") seen = name;
    }
  }
  child.kill_and_reap();
  ASSERT_FALSE(seen.empty()) << "never saw the writer's temp file";
  EXPECT_TRUE(is_temp_file_name(seen)) << seen;
  for (const auto& entry : fs::directory_iterator(temp.path())) {
    std::string name = entry.path().filename().string();
    if (name != "vm.json") {
      EXPECT_TRUE(is_temp_file_name(name)) << name;
    }
  }
}

TEST(TempFileName, OrdinaryNamesAreNotTempFiles) {
  EXPECT_FALSE(is_temp_file_name("vm.json"));
  EXPECT_FALSE(is_temp_file_name("web"));
  EXPECT_FALSE(is_temp_file_name("noop-state"));
  EXPECT_FALSE(is_temp_file_name("web.lock"));
  EXPECT_FALSE(is_temp_file_name(""));
}

}  // namespace
}  // namespace vm_manager::os
