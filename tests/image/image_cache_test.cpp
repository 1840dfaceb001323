// The image cache against a real HTTP server on 127.0.0.1
// (tests/image/http_server.py): downloads, redirects, resumed downloads,
// checksums, decompression by magic bytes, concurrent pulls, list/inspect/remove.
#include "image/image_cache.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "image/sha256.hpp"
#include "os/file_lock.hpp"
#include "util/strings.hpp"
#include "support/error_from.hpp"
#include "support/bytes.hpp"
#include "support/http_server.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using vmctl::test::TempDir;
using vmctl::test::read_bytes;
using vmctl::test::write_bytes;
using vmctl::test::error_from;

constexpr int kCutAfter = 1000;

// The strong ETag tests/image/http_server.py gives a file.
std::string etag_of(const std::string& content) { return "\"" + sha256_hex(content) + "\""; }

void run(const std::vector<std::string>& argv) {
  auto result = vmctl::test::run_process(argv);
  ASSERT_EQ(result.exit_code, 0) << argv[0] << ": " << result.err;
}

class ImageCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(vmctl::test::run_process({"qemu-img", "--version"}).exit_code, 0) << "qemu-img is missing: make deps installs it";
    fs::create_directories(served_);
    // A qcow2 image, and some data after its header so the file is not all zeros.
    qcow2_ = served_ / "disk.qcow2";
    run({"qemu-img", "create", "-q", "-f", "qcow2", qcow2_.string(), "64M"});
    qcow2_bytes_ = read_bytes(qcow2_);
    ASSERT_GT(qcow2_bytes_.size(), 4u * kCutAfter);

    server_.emplace(served_, kCutAfter);
    ASSERT_NE(server_->port(), 0) << "the test HTTP server did not start";
  }

  std::string url(const std::string& path) const { return server_->url(path); }

  ImageCache cache() const {
    ImageCacheOptions options;
    options.root = root_;
    options.lock_timeout = 60s;
    options.download.connect_timeout = 5s;
    options.download.low_speed_time = 10s;
    return ImageCache(options);
  }

  // The request log: "METHOD PATH RANGE" per line.
  std::vector<std::string> requests() const {
    std::vector<std::string> lines;
    std::istringstream in(server_->log());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }
  long gets_of(const std::string& path) const {
    auto lines = requests();
    return std::count_if(lines.begin(), lines.end(),
                         [&](const std::string& l) { return l.starts_with("GET /" + path + " "); });
  }

  void create_dirs_for_lock() const { fs::create_directories(root_); }

  // Nothing in the cache but lock files.
  void expect_nothing_cached() const {
    EXPECT_TRUE(cache().list().empty());
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(root_, ec)) {
      EXPECT_TRUE(entry.path().extension() == ".lock") << "left behind: " << entry.path();
    }
  }

  TempDir tmp_;
  fs::path served_ = tmp_ / "served";
  fs::path root_ = tmp_ / "cache";
  fs::path qcow2_;
  std::string qcow2_bytes_;
  std::optional<vmctl::test::TestHttpServer> server_;
};

TEST_F(ImageCacheTest, DownloadsAQcow2ImageAndDetectsItsFormat) {
  auto c = cache();
  fs::path path = c.pull(url("disk.qcow2"));
  EXPECT_EQ(path, root_ / ImageCache::key_for(url("disk.qcow2")) / "image");
  EXPECT_EQ(read_bytes(path), qcow2_bytes_);

  CachedImage meta = c.inspect(url("disk.qcow2"));
  EXPECT_EQ(meta.source, url("disk.qcow2"));
  EXPECT_EQ(meta.format, "qcow2");
  EXPECT_EQ(meta.compression, "none");
  EXPECT_EQ(meta.size, qcow2_bytes_.size());
  EXPECT_EQ(meta.sha256, sha256_hex(qcow2_bytes_));
  EXPECT_FALSE(meta.fetched_at.empty());
  EXPECT_EQ(meta.path, path);

  auto json = nlohmann::json::parse(read_bytes(path.parent_path() / "meta.json"));
  EXPECT_EQ(json.at("format"), "qcow2");
  EXPECT_EQ(json.at("source"), url("disk.qcow2"));
  EXPECT_EQ(json.at("sha256"), sha256_hex(qcow2_bytes_));
  EXPECT_EQ(json.at("size"), qcow2_bytes_.size());
  EXPECT_FALSE(fs::exists(path.parent_path() / "download.partial"));
}

// What a pull tells its hooks: every progress report, and the log's lines.
struct Heard {
  std::vector<Progress> reports;
  std::vector<std::pair<LogLevel, std::string>> lines;

  void listen(ImageCacheOptions& options) {
    options.progress = [this](const Progress& p) { reports.push_back(p); };
    options.log = [this](LogLevel level, std::string_view line) { lines.emplace_back(level, std::string(line)); };
  }
  std::vector<std::string> info_lines() const {
    std::vector<std::string> out;
    for (const auto& [level, line] : lines) {
      if (level == LogLevel::info) out.push_back(line);
    }
    return out;
  }
};

// The reports of one download: about `url`, counting up, and only the last finished.
void expect_one_download(const std::vector<Progress>& reports, const std::string& url) {
  ASSERT_GE(reports.size(), 2u);
  for (std::size_t i = 0; i < reports.size(); ++i) {
    EXPECT_EQ(reports[i].what, url);
    EXPECT_EQ(reports[i].finished, i + 1 == reports.size()) << "report " << i;
    if (reports[i].total) {
      EXPECT_LE(reports[i].done, *reports[i].total) << "report " << i;
    }
  }
}

TEST_F(ImageCacheTest, ADownloadReportsItsBytesAndEndsFinishedWithAll) {
  ImageCacheOptions options;
  options.root = root_;
  Heard heard;
  heard.listen(options);
  ImageCache(options).pull(url("trickle/disk.qcow2"));  // ten pieces: several reports on the way

  expect_one_download(heard.reports, url("trickle/disk.qcow2"));
  const Progress& last = heard.reports.back();
  EXPECT_TRUE(last.finished);
  ASSERT_TRUE(last.total.has_value());
  EXPECT_EQ(last.done, qcow2_bytes_.size());
  EXPECT_EQ(*last.total, qcow2_bytes_.size());
  // Some report on the way counted part of the file against its whole size.
  EXPECT_TRUE(std::any_of(heard.reports.begin(), heard.reports.end(), [&](const Progress& p) {
    return p.total == qcow2_bytes_.size() && p.done > 0 && p.done < qcow2_bytes_.size();
  }));
  EXPECT_EQ(heard.info_lines(),
            (std::vector<std::string>{"Downloading " + url("trickle/disk.qcow2"),
                                      "Downloaded " + url("trickle/disk.qcow2") + " (" +
                                          vm_manager::util::human_bytes(static_cast<double>(qcow2_bytes_.size())) + ")"}));
}

TEST_F(ImageCacheTest, AResumedDownloadCountsWhatWasThere) {
  const fs::path dir = root_ / ImageCache::key_for(url("disk.qcow2"));
  fs::create_directories(dir);
  write_bytes(dir / "download.partial", qcow2_bytes_.substr(0, 3072));
  write_bytes(dir / "download.partial.validator", etag_of(qcow2_bytes_) + "\n");
  ImageCacheOptions options;
  options.root = root_;
  Heard heard;
  heard.listen(options);
  ImageCache(options).pull(url("disk.qcow2"));
  ASSERT_FALSE(heard.reports.empty());
  for (const Progress& p : heard.reports) EXPECT_GE(p.done, 3072u);
  EXPECT_EQ(heard.reports.back().done, qcow2_bytes_.size());
  EXPECT_EQ(heard.reports.back().total, qcow2_bytes_.size());
  ASSERT_FALSE(heard.info_lines().empty());
  EXPECT_EQ(heard.info_lines().front(), "Downloading " + url("disk.qcow2") + " (resuming at 3.0 KiB)");
}

TEST_F(ImageCacheTest, AFailedDownloadStillEndsFinished) {
  ImageCacheOptions options;
  options.root = root_;
  Heard heard;
  heard.listen(options);
  auto e = error_from([&] { ImageCache(options).pull(url("missing.img")); });
  EXPECT_EQ(e.code(), errc::image_download_failed);
  ASSERT_FALSE(heard.reports.empty());
  EXPECT_TRUE(heard.reports.back().finished);
  EXPECT_EQ(heard.info_lines(), std::vector<std::string>{"Downloading " + url("missing.img")});
}

TEST_F(ImageCacheTest, DecompressingALocalFileIsLogged) {
  run({"xz", "-k", "-f", qcow2_.string()});
  ImageCacheOptions options;
  options.root = root_;
  Heard heard;
  heard.listen(options);
  ImageCache(options).pull(qcow2_.string() + ".xz");
  EXPECT_EQ(heard.info_lines(), std::vector<std::string>{"Decompressing " + qcow2_.string() + ".xz (xz)"});
  EXPECT_TRUE(heard.reports.empty());  // nothing was downloaded
}

TEST_F(ImageCacheTest, AnHttpErrorFailsAndCachesNothing) {
  auto c = cache();
  auto e = error_from([&] { c.pull(url("missing.img")); });
  EXPECT_EQ(e.code(), errc::image_download_failed);
  EXPECT_THAT(e.message(), HasSubstr("404"));
  expect_nothing_cached();
  EXPECT_EQ(gets_of("missing.img"), 1);
}

TEST_F(ImageCacheTest, RefusedConnectionFails) {
  ImageCacheOptions options;
  options.root = root_;
  options.download.attempts = 1;
  ImageCache c(options);
  // Port 1 on loopback: nothing listens there.
  auto e = error_from([&] { c.pull("http://127.0.0.1:1/disk.qcow2"); });
  EXPECT_EQ(e.code(), errc::image_download_failed);
  expect_nothing_cached();
}

TEST_F(ImageCacheTest, FollowsRedirects) {
  auto c = cache();
  fs::path path = c.pull(url("redirect/disk.qcow2"));
  EXPECT_EQ(read_bytes(path), qcow2_bytes_);
  EXPECT_EQ(gets_of("redirect/disk.qcow2"), 1);
  EXPECT_EQ(gets_of("disk.qcow2"), 1);
  EXPECT_EQ(c.inspect(url("redirect/disk.qcow2")).format, "qcow2");
}

TEST_F(ImageCacheTest, ResumesACutOffDownloadWithARangeRequest) {
  auto c = cache();
  fs::path path = c.pull(url("cut/disk.qcow2"));
  EXPECT_EQ(read_bytes(path), qcow2_bytes_);
  auto lines = requests();
  ASSERT_EQ(lines.size(), 2u) << ::testing::PrintToString(lines);
  EXPECT_EQ(lines[0], "GET /cut/disk.qcow2 -");
  EXPECT_EQ(lines[1], "GET /cut/disk.qcow2 bytes=" + std::to_string(kCutAfter) + "-");
}

TEST_F(ImageCacheTest, ResumesALeftoverPartialFile) {
  // What a killed pull leaves behind: the first bytes in download.partial,
  // and the validator of the file they came from.
  const fs::path dir = root_ / ImageCache::key_for(url("disk.qcow2"));
  fs::create_directories(dir);
  write_bytes(dir / "download.partial", qcow2_bytes_.substr(0, 3000));
  write_bytes(dir / "download.partial.validator", etag_of(qcow2_bytes_) + "\n");
  fs::path path = cache().pull(url("disk.qcow2"));
  EXPECT_EQ(read_bytes(path), qcow2_bytes_);
  EXPECT_EQ(requests(), std::vector<std::string>{"GET /disk.qcow2 bytes=3000-"});
  EXPECT_FALSE(fs::exists(dir / "download.partial.validator"));
}

TEST_F(ImageCacheTest, ALeftoverPartialFileOfUnknownOriginStartsOver) {
  // No validator: the bytes may be of another version of the file.
  const fs::path dir = root_ / ImageCache::key_for(url("disk.qcow2"));
  fs::create_directories(dir);
  write_bytes(dir / "download.partial", std::string(3000, 'x'));
  fs::path path = cache().pull(url("disk.qcow2"));
  EXPECT_EQ(read_bytes(path), qcow2_bytes_);
  EXPECT_EQ(requests(), std::vector<std::string>{"GET /disk.qcow2 -"});
}

TEST_F(ImageCacheTest, StartsOverInTheSameRequestWhenTheServerIgnoresRange) {
  auto c = cache();
  fs::path path = c.pull(url("cut/norange/disk.qcow2"));
  EXPECT_EQ(read_bytes(path), qcow2_bytes_);
  auto lines = requests();
  // The 200 that answered the range is the whole file, written from byte 0: no third request.
  ASSERT_EQ(lines.size(), 2u) << ::testing::PrintToString(lines);
  EXPECT_EQ(lines[1], "GET /cut/norange/disk.qcow2 bytes=" + std::to_string(kCutAfter) + "-");
}

TEST_F(ImageCacheTest, AFileChangedMidDownloadIsCachedWholeNeverSpliced) {
  std::string changed = qcow2_bytes_;
  changed.replace(0, 2 * kCutAfter, std::string(2 * kCutAfter, '\x5a'));  // another file from the first byte
  changed += std::string(777, '\x17');
  write_bytes(served_ / "disk.qcow2.new", changed);
  auto c = cache();
  EXPECT_EQ(read_bytes(c.pull(url("change/disk.qcow2"))), changed);
  EXPECT_EQ(c.inspect(url("change/disk.qcow2")).sha256, sha256_hex(changed));
  EXPECT_EQ(requests(), (std::vector<std::string>{"GET /change/disk.qcow2 -",
                                                  "GET /change/disk.qcow2 bytes=" + std::to_string(kCutAfter) + "-"}));
}

TEST_F(ImageCacheTest, APullWaitingForTheLockTimesOut) {
  // Another holder of the entry's lock (another open file description, as
  // another process would have): the pull waits, then gives up clearly.
  create_dirs_for_lock();
  const fs::path lock = root_ / (ImageCache::key_for(url("disk.qcow2")) + ".lock");
  auto held = os::lock_exclusive(lock, 5s, [](long) {});
  ASSERT_TRUE(held.has_value());
  ImageCacheOptions options;
  options.root = root_;
  options.lock_timeout = 200ms;
  Heard heard;
  heard.listen(options);
  auto e = error_from([&] { ImageCache(options).pull(url("disk.qcow2")); });
  ::close(*held);
  EXPECT_EQ(e.code(), errc::image_locked);
  EXPECT_THAT(e.message(), HasSubstr("timed out waiting for the lock on " + url("disk.qcow2")));
  EXPECT_FALSE(e.help().empty());
  EXPECT_THAT(heard.info_lines(), ::testing::Contains(::testing::StartsWith("Waiting for another pull of " +
                                                                            url("disk.qcow2"))));
  EXPECT_TRUE(requests().empty());
  // Once the holder is gone, the same pull goes through.
  EXPECT_EQ(read_bytes(ImageCache(options).pull(url("disk.qcow2"))), qcow2_bytes_);
}

TEST_F(ImageCacheTest, ChecksumMismatchFailsAndCachesNothing) {
  auto c = cache();
  const std::string wrong(64, 'a');
  auto e = error_from([&] { c.pull(url("disk.qcow2"), wrong); });
  EXPECT_EQ(e.code(), errc::image_checksum_mismatch);
  EXPECT_THAT(e.message(), HasSubstr(wrong));
  EXPECT_THAT(e.message(), HasSubstr(sha256_hex(qcow2_bytes_)));
  expect_nothing_cached();

  // The right one, in upper case, passes.
  std::string right = sha256_hex(qcow2_bytes_);
  std::transform(right.begin(), right.end(), right.begin(), ::toupper);
  fs::path path = c.pull(url("disk.qcow2"), right);
  EXPECT_EQ(read_bytes(path), qcow2_bytes_);
  // A cached entry is checked too.
  EXPECT_EQ(error_from([&] { c.pull(url("disk.qcow2"), wrong); }).code(), errc::image_checksum_mismatch);
  EXPECT_EQ(c.pull(url("disk.qcow2"), right), path);
  EXPECT_EQ(gets_of("disk.qcow2"), 2);
}

TEST_F(ImageCacheTest, MalformedChecksumIsRefusedBeforeDownloading) {
  auto c = cache();
  for (const std::string& bad : std::vector<std::string>{"abc", std::string(63, 'a'), std::string(64, 'g'), std::string(65, 'a')}) {
    EXPECT_EQ(error_from([&] { c.pull(url("disk.qcow2"), bad); }).code(), errc::image_bad_checksum) << bad;
  }
  EXPECT_TRUE(requests().empty());
}

TEST_F(ImageCacheTest, DecompressesByMagicBytesNotByName) {
  // Each compressed file is served under a name suggesting another format.
  struct Variant {
    std::vector<std::string> argv;
    std::string made;
    std::string served_as;
    std::string compression;
  };
  const std::string src = qcow2_.string();
  std::vector<Variant> variants = {
      {{"zstd", "-q", "-f", "-k", src, "-o", src + ".zst"}, src + ".zst", "zstd-image.gz", "zstd"},
      {{"xz", "-k", "-f", src}, src + ".xz", "xz-image.zst", "xz"},
      {{"gzip", "-k", "-f", src}, src + ".gz", "gzip-image.img", "gzip"},
  };
  auto c = cache();
  for (const auto& v : variants) {
    SCOPED_TRACE(v.compression);
    if (vmctl::test::run_process({v.argv[0], "--version"}).exit_code != 0) {
      ADD_FAILURE() << v.argv[0] << " is not installed";
      continue;
    }
    run(v.argv);
    fs::rename(v.made, served_ / v.served_as);
    const std::string compressed = read_bytes(served_ / v.served_as);
    fs::path path = c.pull(url(v.served_as), sha256_hex(compressed));
    EXPECT_EQ(read_bytes(path), qcow2_bytes_);
    CachedImage meta = c.inspect(url(v.served_as));
    EXPECT_EQ(meta.compression, v.compression);
    EXPECT_EQ(meta.format, "qcow2");
    EXPECT_EQ(meta.sha256, sha256_hex(qcow2_bytes_));
    EXPECT_EQ(meta.download_sha256, sha256_hex(compressed));
    EXPECT_EQ(meta.size, qcow2_bytes_.size());
    EXPECT_FALSE(fs::exists(path.parent_path() / "download.partial"));
    EXPECT_FALSE(fs::exists(path.parent_path() / "image.decompressing"));
  }
  // A compressed file of a raw image: format "raw".
  write_bytes(served_ / "raw.bin", std::string(100000, 'x'));
  run({"gzip", "-k", "-f", (served_ / "raw.bin").string()});
  EXPECT_EQ(read_bytes(c.pull(url("raw.bin.gz"))), std::string(100000, 'x'));
  EXPECT_EQ(c.inspect(url("raw.bin.gz")).format, "raw");
}

TEST_F(ImageCacheTest, CorruptCompressedDownloadFails) {
  std::string zstd_magic_then_garbage = std::string("\x28\xb5\x2f\xfd", 4) + std::string(5000, 'z');
  write_bytes(served_ / "broken.zst", zstd_magic_then_garbage);
  auto c = cache();
  EXPECT_EQ(error_from([&] { c.pull(url("broken.zst")); }).code(), errc::image_decompress_failed);
  expect_nothing_cached();
}

TEST_F(ImageCacheTest, ConcurrentPullsOfOneUrlDownloadOnce) {
  std::vector<fs::path> paths(4);
  std::vector<std::string> errors(4);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      try {
        paths[i] = cache().pull(url("slow/disk.qcow2"));
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(errors[i], "");
    EXPECT_EQ(paths[i], paths[0]);
  }
  EXPECT_EQ(read_bytes(paths[0]), qcow2_bytes_);
  EXPECT_EQ(gets_of("slow/disk.qcow2"), 1);
}

TEST_F(ImageCacheTest, ConcurrentPullsFromTwoProcessesDownloadOnce) {
  // A forked child pulls while we pull; the lock is a file lock, so this is
  // the cross-process case.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int rc = 0;
    try {
      ImageCacheOptions options;
      options.root = root_;
      ImageCache(options).pull(url("slow/disk.qcow2"));
    } catch (...) {
      rc = 1;
    }
    ::_exit(rc);
  }
  fs::path path = cache().pull(url("slow/disk.qcow2"));
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_EQ(read_bytes(path), qcow2_bytes_);
  EXPECT_EQ(gets_of("slow/disk.qcow2"), 1);
}

TEST_F(ImageCacheTest, EntriesAreKeyedBySource) {
  auto c = cache();
  fs::path a = c.pull(url("disk.qcow2"));
  EXPECT_EQ(c.pull(url("disk.qcow2")), a);
  EXPECT_EQ(gets_of("disk.qcow2"), 1);

  fs::path b = c.pull(url("redirect/disk.qcow2"));
  EXPECT_NE(a, b);
  EXPECT_EQ(read_bytes(a), read_bytes(b));
  auto all = c.list();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].source, url("disk.qcow2"));
  EXPECT_EQ(all[1].source, url("redirect/disk.qcow2"));
  EXPECT_EQ(all[0].key, ImageCache::key_for(url("disk.qcow2")));
  EXPECT_EQ(all[0].key.size(), 64u);
}

TEST_F(ImageCacheTest, InspectAndRemoveBySourceOrKey) {
  auto c = cache();
  fs::path a = c.pull(url("disk.qcow2"));
  fs::path b = c.pull(url("redirect/disk.qcow2"));
  const std::string key_b = ImageCache::key_for(url("redirect/disk.qcow2"));

  EXPECT_EQ(c.inspect(key_b).source, url("redirect/disk.qcow2"));
  EXPECT_EQ(c.inspect(url("disk.qcow2")).path, a);

  c.remove(url("disk.qcow2"));
  EXPECT_FALSE(fs::exists(a.parent_path()));
  EXPECT_EQ(error_from([&] { c.inspect(url("disk.qcow2")); }).code(), errc::image_not_found);
  ASSERT_EQ(c.list().size(), 1u);

  c.remove(key_b);
  EXPECT_FALSE(fs::exists(b.parent_path()));
  EXPECT_TRUE(c.list().empty());
  EXPECT_EQ(error_from([&] { c.remove(key_b); }).code(), errc::image_not_found);
  EXPECT_EQ(error_from([&] { c.remove(url("never-pulled")); }).code(), errc::image_not_found);

  // Pulled again after removal: downloaded again.
  // Pulled again after removal: downloaded again (the redirect fetched it once too).
  EXPECT_EQ(c.pull(url("disk.qcow2")), a);
  EXPECT_EQ(gets_of("disk.qcow2"), 3);
}

TEST_F(ImageCacheTest, LocalPathsAreUsedInPlace) {
  auto c = cache();
  EXPECT_EQ(c.pull(qcow2_.string()), qcow2_);
  EXPECT_EQ(c.pull(qcow2_.string(), sha256_hex(qcow2_bytes_)), qcow2_);
  EXPECT_EQ(error_from([&] { c.pull(qcow2_.string(), std::string(64, '0')); }).code(), errc::image_checksum_mismatch);
  EXPECT_EQ(error_from([&] { c.pull((tmp_ / "nope.img").string()); }).code(), errc::image_not_found);
  EXPECT_EQ(error_from([&] { c.pull(served_.string()); }).code(), errc::image_not_found);
  EXPECT_EQ(error_from([&] { c.pull("ftp://127.0.0.1/disk.qcow2"); }).code(), errc::image_bad_source);
  EXPECT_EQ(error_from([&] { c.pull(""); }).code(), errc::image_bad_source);
  EXPECT_FALSE(fs::exists(root_));  // nothing copied, nothing created
}

TEST_F(ImageCacheTest, LocalCompressedFilesAreDecompressedIntoTheCache) {
  struct Variant {
    std::vector<std::string> argv;
    std::string made;
    std::string named;  // names that suggest another format: detection is by magic bytes
    std::string compression;
  };
  const fs::path local = tmp_ / "local";
  fs::create_directories(local);
  const std::string src = qcow2_.string();
  std::vector<Variant> variants = {
      {{"zstd", "-q", "-f", "-k", src, "-o", src + ".zst"}, src + ".zst", "disk.qcow2.gz", "zstd"},
      {{"xz", "-k", "-f", src}, src + ".xz", "disk.qcow2.zst", "xz"},
      {{"gzip", "-k", "-f", src}, src + ".gz", "disk.img", "gzip"},
  };
  auto c = cache();
  std::vector<fs::path> images;
  for (const auto& v : variants) {
    SCOPED_TRACE(v.compression);
    if (vmctl::test::run_process({v.argv[0], "--version"}).exit_code != 0) {
      ADD_FAILURE() << v.argv[0] << " is not installed";
      continue;
    }
    run(v.argv);
    const fs::path file = local / v.named;
    fs::rename(v.made, file);
    const std::string compressed = read_bytes(file);

    fs::path path = c.pull(file.string(), sha256_hex(compressed));
    EXPECT_EQ(path.parent_path().parent_path(), root_);
    EXPECT_EQ(path.filename(), "image");
    EXPECT_EQ(read_bytes(path), qcow2_bytes_);
    EXPECT_EQ(read_bytes(file), compressed);  // the original is left alone
    EXPECT_EQ(c.path_for(file.string()), path);
    CachedImage meta = c.inspect(file.string());
    EXPECT_EQ(meta.path, path);
    EXPECT_EQ(meta.source, file.string());
    EXPECT_EQ(meta.compression, v.compression);
    EXPECT_EQ(meta.format, "qcow2");
    EXPECT_EQ(meta.sha256, sha256_hex(qcow2_bytes_));
    EXPECT_EQ(meta.download_sha256, sha256_hex(compressed));
    EXPECT_EQ(meta.size, qcow2_bytes_.size());
    EXPECT_FALSE(fs::exists(path.parent_path() / "image.decompressing"));

    // Pulled again, by a relative path too: the same entry, not decompressed again.
    const auto written = fs::last_write_time(path);
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(c.pull(file.string()), path);
    vmctl::test::ProcessResult relative = vmctl::test::run_process(
        {VMCTL_BINARY, "image", "pull", "-q", "./" + v.named},
        vmctl::test::ProcessOptions{{{"VMCTL_IMAGE_CACHE", root_.string()}}, 60s, "/dev/null", local.string()});
    EXPECT_EQ(relative.exit_code, 0) << relative.err;
    EXPECT_EQ(relative.out, "");  // -q
    EXPECT_EQ(fs::last_write_time(path), written);
    EXPECT_EQ(c.pull(file.string(), sha256_hex(compressed)), path);
    EXPECT_EQ(error_from([&] { c.pull(file.string(), std::string(64, '0')); }).code(), errc::image_checksum_mismatch);
    images.push_back(path);
  }
  EXPECT_EQ(c.list().size(), images.size());
  ASSERT_FALSE(images.empty());

  // Edited in place (same name, new content and mtime): imported again; the
  // old version stays cached for the VMs based on it.
  const fs::path file = local / "disk.img";
  write_bytes(tmp_ / "raw.bin", std::string(100000, 'y'));
  run({"gzip", "-k", "-f", (tmp_ / "raw.bin").string()});
  fs::rename(tmp_ / "raw.bin.gz", file);
  fs::last_write_time(file, fs::last_write_time(file) + 5s);
  fs::path edited = c.pull(file.string());
  EXPECT_NE(edited, images.back());
  EXPECT_EQ(read_bytes(edited), std::string(100000, 'y'));
  EXPECT_EQ(read_bytes(images.back()), qcow2_bytes_);
  EXPECT_EQ(c.inspect(file.string()).path, edited);
  EXPECT_EQ(c.inspect(file.string()).format, "raw");
  EXPECT_EQ(c.list().size(), images.size() + 1);

  // Only the mtime changes: imported again as well.
  fs::last_write_time(file, fs::last_write_time(file) + 5s);
  fs::path touched = c.pull(file.string());
  EXPECT_NE(touched, edited);
  EXPECT_EQ(read_bytes(touched), std::string(100000, 'y'));

  // An uncompressed local file is still used in place, nothing imported.
  EXPECT_EQ(c.pull(qcow2_.string()), qcow2_);
  EXPECT_EQ(c.list().size(), images.size() + 2);
}

TEST_F(ImageCacheTest, CorruptLocalCompressedFileFailsAndCachesNothing) {
  const fs::path file = tmp_ / "broken.xz";
  write_bytes(file, std::string("\xfd" "7zXZ\x00", 6) + std::string(5000, 'z'));
  auto c = cache();
  auto e = error_from([&] { c.pull(file.string()); });
  EXPECT_EQ(e.code(), errc::image_decompress_failed);
  EXPECT_THAT(e.message(), HasSubstr(file.string()));
  expect_nothing_cached();
}

TEST_F(ImageCacheTest, KeysCanBeGivenByAUniquePrefix) {
  auto c = cache();
  fs::path a = c.pull(url("disk.qcow2"));
  const std::string key = ImageCache::key_for(url("disk.qcow2"));
  EXPECT_EQ(c.inspect(key.substr(0, 12)).path, a);
  EXPECT_EQ(c.inspect(key.substr(0, 4)).path, a);
  std::string upper = key.substr(0, 8);
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  EXPECT_EQ(c.inspect(upper).path, a);
  EXPECT_EQ(error_from([&] { c.inspect(key.substr(0, 3)); }).code(), errc::image_not_found);

  // Two entries sharing a prefix (made by hand: keys are SHA-256 digests).
  for (const std::string& fake : {"abcd1" + std::string(59, '0'), "abcd2" + std::string(59, '0')}) {
    fs::create_directories(root_ / fake);
    write_bytes(root_ / fake / "image", "x");
    write_bytes(root_ / fake / "meta.json",
                nlohmann::json{{"source", "src-" + fake.substr(4, 1)}, {"sha256", fake}, {"format", "raw"}, {"size", 1}}
                    .dump());
  }
  auto e = error_from([&] { c.inspect("abcd"); });
  EXPECT_EQ(e.code(), errc::image_ambiguous);
  EXPECT_THAT(e.message(), HasSubstr("abcd10000000 (src-1), abcd20000000 (src-2)"));
  EXPECT_EQ(error_from([&] { c.remove("ABCD"); }).code(), errc::image_ambiguous);
  EXPECT_EQ(c.inspect("abcd2").source, "src-2");
  c.remove("abcd2");
  EXPECT_EQ(c.inspect("abcd").source, "src-1");
  EXPECT_EQ(c.list().size(), 2u);
}

TEST(ImageCacheRootTest, DefaultRootFollowsXdgCacheHome) {
  Environment env;
  env.set("HOME", "/home/someone");
  EXPECT_EQ(ImageCache::default_root(env), fs::path("/home/someone/.cache/vmctl/images"));
  env.set("XDG_CACHE_HOME", "/some/cache");
  EXPECT_EQ(ImageCache::default_root(env), fs::path("/some/cache/vmctl/images"));
  env.set("VMCTL_IMAGE_CACHE", "/own/cache");
  EXPECT_EQ(ImageCache::default_root(env), fs::path("/own/cache"));
  env.set("VMCTL_IMAGE_CACHE", "relative/cache");
  EXPECT_EQ(error_from([&] { ImageCache::default_root(env); }).code(), errc::image_bad_source);
  EXPECT_EQ(error_from([] { ImageCache::default_root(Environment{}); }).code(), errc::image_bad_source);
}

TEST(ImageCacheKeyTest, KeyIsTheSha256OfTheSource) {
  EXPECT_EQ(ImageCache::key_for(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_NE(ImageCache::key_for("http://a/x"), ImageCache::key_for("http://a/y"));
}

}  // namespace
}  // namespace vm_manager::image
