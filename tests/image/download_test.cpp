// image::download against the scripted server (tests/image/http_server.py)
// on 127.0.0.1: resumes with If-Range that never splice two versions of a
// file, retries of transient failures with backoff and Retry-After, final
// 4xx answers, and fresh credentials after a 401.
#include "image/download.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "image/resume.hpp"
#include "image/sha256.hpp"
#include "support/error_from.hpp"
#include "support/bytes.hpp"
#include "support/http_server.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Field;
using ::testing::HasSubstr;
using vmctl::test::SeenRequest;
using vmctl::test::TempDir;
using vmctl::test::read_bytes;
using vmctl::test::write_bytes;
using vmctl::test::error_from;

constexpr int kCutAfter = 1000;

// Varied bytes, different for each seed: a splice of two shows.
std::string sample(std::size_t size, int seed) {
  std::string bytes;
  for (std::size_t i = 0; i < size; ++i) bytes += static_cast<char>((i * (7 + seed) + i / 251 + seed) & 0xff);
  return bytes;
}

// The strong ETag the server gives a file.
std::string etag_of(const std::string& content) { return "\"" + sha256_hex(content) + "\""; }

std::string describe(const std::vector<SeenRequest>& requests) {
  std::string out;
  for (const auto& r : requests) {
    out += r.method + " " + r.path + " range=" + r.range.value_or("-") + " if-range=" + r.if_range.value_or("-") +
           " auth=" + r.authorization.value_or("-") + "\n";
  }
  return out;
}

class DownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(served_);
    write_bytes(served_ / "disk.img", old_);
    write_bytes(served_ / "disk.img.new", new_);
    server_.emplace(served_, kCutAfter);
    ASSERT_NE(server_->port(), 0) << "the test HTTP server did not start";
  }

  std::string url(const std::string& path) const { return server_->url(path); }

  // Small delays, a fixed jitter; hears everything.
  DownloadOptions options() {
    DownloadOptions o;
    o.connect_timeout = 5s;
    o.low_speed_time = 10s;
    o.retry_base_delay = 10ms;
    o.retry_max_delay = 50ms;
    o.jitter = [] { return 0.5; };
    o.progress = [this](const Progress& p) { reports_.push_back(p); };
    o.log = [this](LogLevel level, std::string_view line) {
      if (level == LogLevel::info) lines_.emplace_back(line);
    };
    return o;
  }

  std::vector<SeenRequest> requests() const { return server_->requests(); }
  fs::path validator() const { return fs::path(partial_).concat(".validator"); }

  TempDir tmp_;
  fs::path served_ = tmp_ / "served";
  fs::path partial_ = tmp_ / "download.partial";
  const std::string old_ = sample(64 * 1024, 1);
  const std::string new_ = sample(50 * 1024, 2);  // another size too
  std::optional<vmctl::test::TestHttpServer> server_;
  std::vector<Progress> reports_;
  std::vector<std::string> lines_;
};

TEST_F(DownloadTest, AResumeSendsIfRangeWithTheStrongETag) {
  EXPECT_EQ(download(url("cut/disk.img"), partial_, options()), old_.size());
  EXPECT_EQ(read_bytes(partial_), old_);
  auto seen = requests();
  ASSERT_EQ(seen.size(), 2u) << describe(seen);
  EXPECT_EQ(seen[0].range, std::nullopt);
  EXPECT_EQ(seen[0].if_range, std::nullopt);
  EXPECT_EQ(seen[1].range, "bytes=" + std::to_string(kCutAfter) + "-");
  EXPECT_EQ(seen[1].if_range, etag_of(old_));
  EXPECT_FALSE(fs::exists(validator()));  // complete: nothing left to resume
}

TEST_F(DownloadTest, WithoutAStrongETagIfRangeIsTheLastModifiedDate) {
  for (const std::string mode : {"noetag", "weaketag"}) {
    SCOPED_TRACE(mode);
    fs::remove(partial_);
    write_bytes(served_ / (mode + ".img"), old_);  // the server cuts each file's first download only
    const std::size_t before = requests().size();
    download(url("cut/" + mode + "/" + mode + ".img"), partial_, options());
    EXPECT_EQ(read_bytes(partial_), old_);
    auto seen = requests();
    ASSERT_EQ(seen.size(), before + 2) << describe(seen);
    EXPECT_EQ(seen.back().range, "bytes=" + std::to_string(kCutAfter) + "-");
    ASSERT_TRUE(seen.back().if_range.has_value());
    EXPECT_THAT(*seen.back().if_range, HasSubstr(" GMT"));
  }
}

TEST_F(DownloadTest, AFileChangedMidDownloadIsDownloadedWholeNeverSpliced) {
  EXPECT_EQ(download(url("change/disk.img"), partial_, options()), new_.size());
  EXPECT_EQ(read_bytes(partial_), new_);
  auto seen = requests();
  // The changed file came whole in answer to the resume itself: no third request.
  ASSERT_EQ(seen.size(), 2u) << describe(seen);
  EXPECT_EQ(seen[1].range, "bytes=" + std::to_string(kCutAfter) + "-");
  EXPECT_EQ(seen[1].if_range, etag_of(old_));
}

TEST_F(DownloadTest, AFileChangedMidDownloadIsNeverSplicedByLastModifiedEither) {
  // Another version, modified later than the first.
  fs::last_write_time(served_ / "disk.img.new", fs::last_write_time(served_ / "disk.img") + 10s);
  download(url("change/noetag/disk.img"), partial_, options());
  EXPECT_EQ(read_bytes(partial_), new_);
  EXPECT_EQ(requests().size(), 2u) << describe(requests());
}

TEST_F(DownloadTest, A206OfAnotherVersionIsNotSpliced) {
  // A cache that honours Range but ignores If-Range sends the new file's
  // bytes from our offset, with the new ETag: refused, started over.
  download(url("change/ignoreifrange/disk.img"), partial_, options());
  EXPECT_EQ(read_bytes(partial_), new_);
  auto seen = requests();
  ASSERT_EQ(seen.size(), 3u) << describe(seen);
  EXPECT_EQ(seen[1].range, "bytes=" + std::to_string(kCutAfter) + "-");
  EXPECT_EQ(seen[2].range, std::nullopt);
}

TEST_F(DownloadTest, AServerWithoutRangesRestartsInTheSameRequest) {
  download(url("cut/norange/disk.img"), partial_, options());
  EXPECT_EQ(read_bytes(partial_), old_);
  auto seen = requests();
  ASSERT_EQ(seen.size(), 2u) << describe(seen);
  EXPECT_EQ(seen[1].range, "bytes=" + std::to_string(kCutAfter) + "-");
  // Progress counted the restarted file from 0, never past its size.
  for (const Progress& p : reports_) {
    if (p.total) {
      EXPECT_LE(p.done, *p.total);
    }
  }
  EXPECT_EQ(reports_.back().done, old_.size());
}

TEST_F(DownloadTest, WithoutAValidatorNothingIsResumed) {
  download(url("cut/novalidator/disk.img"), partial_, options());
  EXPECT_EQ(read_bytes(partial_), old_);
  auto seen = requests();
  ASSERT_EQ(seen.size(), 2u) << describe(seen);
  EXPECT_EQ(seen[1].range, std::nullopt);
  EXPECT_EQ(seen[1].if_range, std::nullopt);
}

TEST_F(DownloadTest, TrailersAfterAChunkedBodyAreNotANewAnswer) {
  // libcurl hands trailer fields to the header callback after the body
  // (net/ also ignores an empty line closing them): the file must stay whole.
  EXPECT_EQ(download(url("trailers/disk.img"), partial_, options()), old_.size());
  EXPECT_EQ(read_bytes(partial_), old_);
}

TEST_F(DownloadTest, AStaleValidatorGetsTheWholeFile) {
  write_bytes(partial_, sample(3000, 9));
  write_bytes(validator(), "\"an-older-version\"\n");
  download(url("disk.img"), partial_, options());
  EXPECT_EQ(read_bytes(partial_), old_);
  auto seen = requests();
  ASSERT_EQ(seen.size(), 1u) << describe(seen);
  EXPECT_EQ(seen[0].range, "bytes=3000-");
  EXPECT_EQ(seen[0].if_range, "\"an-older-version\"");
}

TEST_F(DownloadTest, AnUnsafeOrHugeValidatorFileIsIgnored) {
  for (const std::string& bad : {std::string("\"x\"\r\nX-Injected: yes\n"), std::string(4096, 'a'), std::string("\n")}) {
    write_bytes(partial_, old_.substr(0, 3000));
    write_bytes(validator(), bad);
    const std::size_t before = requests().size();
    download(url("disk.img"), partial_, options());
    EXPECT_EQ(read_bytes(partial_), old_);
    auto seen = requests();
    ASSERT_EQ(seen.size(), before + 1) << describe(seen);
    EXPECT_EQ(seen.back().range, std::nullopt);  // started over: the bytes' origin is unknown
  }
}

TEST_F(DownloadTest, APartialLargerThanTheFileStartsOverAfter416) {
  write_bytes(partial_, old_ + "trailing bytes");
  write_bytes(validator(), etag_of(old_) + "\n");
  download(url("disk.img"), partial_, options());
  EXPECT_EQ(read_bytes(partial_), old_);
  auto seen = requests();
  ASSERT_EQ(seen.size(), 2u) << describe(seen);
  EXPECT_EQ(seen[0].range, "bytes=" + std::to_string(old_.size() + 14) + "-");
  EXPECT_EQ(seen[1].range, std::nullopt);
}

TEST_F(DownloadTest, AStallIsRetriedAndResumed) {
  DownloadOptions o = options();
  o.low_speed_limit = 1024;
  o.low_speed_time = 1s;
  download(url("stall/disk.img"), partial_, o);
  EXPECT_EQ(read_bytes(partial_), old_);
  auto seen = requests();
  ASSERT_EQ(seen.size(), 2u) << describe(seen);
  EXPECT_EQ(seen[1].range, "bytes=" + std::to_string(kCutAfter) + "-");
  EXPECT_EQ(seen[1].if_range, etag_of(old_));
  EXPECT_THAT(lines_, Contains(AllOf(HasSubstr("Retrying " + url("stall/disk.img") + " in "),
                                     HasSubstr("(attempt 2 of 5)"))));
}

TEST_F(DownloadTest, AConnectionResetIsRetriedAndResumed) {
  download(url("reset/disk.img"), partial_, options());
  EXPECT_EQ(read_bytes(partial_), old_);
  auto seen = requests();
  ASSERT_EQ(seen.size(), 2u) << describe(seen);
  // How much arrived before the reset is the kernel's business; whatever
  // did was resumed, with the validator.
  if (seen[1].range) {
    EXPECT_EQ(seen[1].if_range, etag_of(old_));
  }
}

TEST_F(DownloadTest, A503IsRetriedAndTheAttemptIsReported) {
  download(url("once503/disk.img"), partial_, options());
  EXPECT_EQ(read_bytes(partial_), old_);
  EXPECT_EQ(requests().size(), 2u) << describe(requests());
  // base 10 ms, jitter 0.5: 7.5 ms, rounded.
  const std::string note = "retrying in 8 ms: HTTP 503";
  // The 503's error page is no byte of the file.
  EXPECT_THAT(reports_, Contains(AllOf(Field(&Progress::note, note), Field(&Progress::attempt, 2),
                                       Field(&Progress::attempts, 5), Field(&Progress::finished, false),
                                       Field(&Progress::done, 0u), Field(&Progress::total, std::nullopt))));
  EXPECT_EQ(reports_.back().attempt, 2);
  EXPECT_TRUE(reports_.back().finished);
  EXPECT_TRUE(reports_.back().note.empty());
  EXPECT_EQ(reports_.back().done, old_.size());
  EXPECT_THAT(lines_, Contains("Retrying " + url("once503/disk.img") + " in 8 ms: HTTP 503 (attempt 2 of 5)"));
}

TEST_F(DownloadTest, A429WaitsForItsRetryAfter) {
  download(url("once429/disk.img"), partial_, options());
  EXPECT_EQ(read_bytes(partial_), old_);
  auto seen = requests();
  ASSERT_EQ(seen.size(), 2u) << describe(seen);
  // "Retry-After: 1", not the 10 ms backoff: the second request came at least
  // a second after the first (a lower bound only).
  EXPECT_GE(seen[1].time - seen[0].time, 0.99);
  EXPECT_THAT(lines_, Contains("Retrying " + url("once429/disk.img") + " in 1 s: HTTP 429 (attempt 2 of 5)"));
}

TEST_F(DownloadTest, A404FailsAtOnceWithOneRequest) {
  auto e = error_from([&] { download(url("missing.img"), partial_, options()); });
  EXPECT_EQ(e.code(), errc::image_download_failed);
  EXPECT_EQ(e.message(), "cannot download " + url("missing.img") + ": The requested URL returned error: 404");
  EXPECT_EQ(requests().size(), 1u);
  EXPECT_EQ(read_bytes(partial_), "");  // nothing of the error page
  EXPECT_TRUE(reports_.back().finished);
}

TEST_F(DownloadTest, TheAttemptsAreLimited) {
  DownloadOptions o = options();
  o.attempts = 3;
  auto e = error_from([&] { download(url("always503/disk.img"), partial_, o); });
  EXPECT_EQ(e.code(), errc::image_download_failed);
  EXPECT_THAT(e.message(), HasSubstr("503"));
  EXPECT_EQ(requests().size(), 3u);
  EXPECT_EQ(lines_.size(), 3u);  // "Downloading", then two retries
  EXPECT_THAT(lines_, Contains(HasSubstr("(attempt 3 of 3)")));
  EXPECT_TRUE(reports_.back().finished);
  EXPECT_EQ(reports_.back().attempt, 3);
}

TEST_F(DownloadTest, A401AsksForFreshCredentialsAndGoesOnWhereItStopped) {
  DownloadOptions o = options();
  o.headers = {"Authorization: Bearer first"};
  std::vector<std::string> challenges;
  o.reauthenticate = [&](const std::string& challenge) -> std::optional<std::vector<std::string>> {
    challenges.push_back(challenge);
    return std::vector<std::string>{"Authorization: Bearer second"};
  };
  // The first token is good for one request, which is cut; the resume gets a 401.
  download(url("expiring/cut/disk.img"), partial_, o);
  EXPECT_EQ(read_bytes(partial_), old_);
  EXPECT_EQ(challenges, std::vector<std::string>{"Bearer realm=\"vmctl-test\",error=\"invalid_token\""});
  auto seen = requests();
  ASSERT_EQ(seen.size(), 3u) << describe(seen);
  EXPECT_EQ(seen[0].authorization, "Bearer first");
  EXPECT_EQ(seen[1].authorization, "Bearer first");
  EXPECT_EQ(seen[2].authorization, "Bearer second");
  EXPECT_EQ(seen[2].range, "bytes=" + std::to_string(kCutAfter) + "-");
  EXPECT_EQ(seen[2].if_range, etag_of(old_));
}

TEST_F(DownloadTest, A401IsFinalWithoutFreshCredentials) {
  auto e = error_from([&] { download(url("expiring/disk.img"), partial_, options()); });
  EXPECT_EQ(e.code(), errc::image_download_failed);
  EXPECT_THAT(e.message(), HasSubstr("401"));
  EXPECT_EQ(requests().size(), 1u);

  DownloadOptions o = options();
  int asked = 0;
  o.reauthenticate = [&](const std::string&) -> std::optional<std::vector<std::string>> {
    ++asked;
    return std::nullopt;
  };
  EXPECT_THAT(error_from([&] { download(url("expiring/disk.img"), partial_, o); }).message(), HasSubstr("401"));
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(requests().size(), 2u);

  // Credentials that never work: asked twice, then final.
  asked = 0;
  o.reauthenticate = [&](const std::string&) -> std::optional<std::vector<std::string>> {
    ++asked;
    return std::vector<std::string>{"Authorization: Bearer wrong"};
  };
  EXPECT_THAT(error_from([&] { download(url("expiring/disk.img"), partial_, o); }).message(), HasSubstr("401"));
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(requests().size(), 5u);
}

TEST(Resume, ContentRangeIsReadStrictly) {
  auto r = parse_content_range("bytes 1000-4999/5000");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->first, 1000u);
  EXPECT_EQ(r->size, 5000u);
  r = parse_content_range("bytes 0-9/*");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->size, std::nullopt);
  for (const char* bad : {"", "bytes */5000", "bytes 10-5/50", "bytes 0-9/9", "bytes -9/10", "bytes 0-9/",
                          "items 0-9/10", "bytes 0-9/10x", "bytes 0-9", "bytes 18446744073709551616-1/2"}) {
    EXPECT_EQ(parse_content_range(bad).has_value(), false) << bad;
  }
  EXPECT_EQ(parse_content_length("1234"), 1234u);
  EXPECT_EQ(parse_content_length("12 34"), std::nullopt);
  EXPECT_EQ(parse_content_length(""), std::nullopt);
}

TEST(Resume, TheValidatorIsTheStrongETagElseTheDate) {
  const std::string date = "Sat, 05 Dec 2026 05:00:00 GMT";
  EXPECT_EQ(validator_of({{"etag", "\"abc\""}, {"last-modified", date}}), "\"abc\"");
  EXPECT_EQ(validator_of({{"etag", "W/\"abc\""}, {"last-modified", date}}), date);
  EXPECT_EQ(validator_of({{"last-modified", date}}), date);
  EXPECT_EQ(validator_of({{"etag", "W/\"abc\""}}), std::nullopt);
  EXPECT_EQ(validator_of({{"etag", "\"a\rb\""}}), std::nullopt);  // never sent back into a header
  EXPECT_EQ(validator_of({}), std::nullopt);

  EXPECT_TRUE(same_version({{"etag", "\"abc\""}}, "\"abc\""));
  EXPECT_FALSE(same_version({{"etag", "\"new\""}}, "\"abc\""));
  EXPECT_TRUE(same_version({}, "\"abc\""));  // says nothing: taken at its word
  EXPECT_TRUE(same_version({{"last-modified", date}}, date));
  EXPECT_FALSE(same_version({{"last-modified", "Sun, 06 Dec 2026 05:00:00 GMT"}}, date));
}

TEST(Resume, TheValidatorFileIsKeptAndReadBackWithCare) {
  TempDir tmp;
  const fs::path partial = tmp / "download.partial";
  EXPECT_EQ(read_validator(partial), std::nullopt);
  remember_validator(partial, std::string("\"v1\""));
  EXPECT_EQ(read_bytes(fs::path(partial).concat(".validator")), "\"v1\"\n");
  EXPECT_EQ(read_validator(partial), "\"v1\"");
  remember_validator(partial, std::nullopt);
  EXPECT_FALSE(fs::exists(fs::path(partial).concat(".validator")));
  forget_validator(partial);  // already gone: fine

  fs::create_directory(fs::path(partial).concat(".validator"));  // not a regular file
  EXPECT_EQ(read_validator(partial), std::nullopt);
}

}  // namespace
}  // namespace vm_manager::image
