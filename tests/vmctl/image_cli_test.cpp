// vmctl image pull/list/inspect/rm against tests/image/http_server.py on
// 127.0.0.1, with the cache in a temp dir (VMCTL_IMAGE_CACHE or XDG_CACHE_HOME).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "image/sha256.hpp"
#include "support/http_server.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vmctl::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Exit 1 with the given stable code, a one-line message and a help line,
// after whatever progress lines a pull printed.
void expect_error(const ProcessResult& r, const std::string& code) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out, "");
  auto lines = lines_of(r.err);
  ASSERT_GE(lines.size(), 2u) << r.err;
  EXPECT_THAT(lines[lines.size() - 2], StartsWith("error[" + code + "]: ")) << r.err;
  EXPECT_THAT(lines.back(), StartsWith("  help: ")) << r.err;
}

class ImageCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(served_);
    disk_ = served_ / "disk.qcow2";
    ASSERT_EQ(run_process({"qemu-img", "create", "-q", "-f", "qcow2", disk_.string(), "64M"}).exit_code, 0);
    server_.emplace(served_);
    ASSERT_NE(server_->port(), 0) << "the test HTTP server did not start";
  }

  std::string url(const std::string& path) const { return server_->url(path); }

  ProcessResult image(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
    if (env.empty()) env = {{"VMCTL_IMAGE_CACHE", cache_.string()}};
    std::vector<std::string> all{"image"};
    all.insert(all.end(), args.begin(), args.end());
    return run_vmctl(data_.string(), all, ProcessOptions{env, 60s});
  }
  std::string ok(const std::vector<std::string>& args) {
    ProcessResult r = image(args);
    EXPECT_EQ(r.exit_code, 0) << "stdout: " << r.out << "\nstderr: " << r.err;
    return r.out;
  }

  TempDir tmp_;
  fs::path served_ = tmp_ / "served";
  fs::path cache_ = tmp_ / "cache";
  fs::path data_ = tmp_ / "data";
  fs::path disk_;
  std::optional<TestHttpServer> server_;
};

TEST_F(ImageCliTest, PullListInspectRemove) {
  const std::string src = url("disk.qcow2");
  ProcessResult pulled = image({"pull", src, "--sha256", vm_manager::image::sha256_file(disk_)});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  const std::string key = vm_manager::image::sha256_hex(src);
  const fs::path path = cache_ / key / "image";
  EXPECT_EQ(pulled.out, "Pulled " + src + ": " + path.string() + "\n");
  // Not a terminal: plain lines, no progress bar redrawn with \r.
  EXPECT_THAT(pulled.err, HasSubstr("Downloading " + src));
  EXPECT_EQ(pulled.err.find('\r'), std::string::npos);
  EXPECT_EQ(read_bytes(path), read_bytes(disk_));

  auto table = lines_of(ok({"list"}));
  ASSERT_EQ(table.size(), 2u);
  const std::size_t format_column = src.size() + 2;
  EXPECT_EQ(table[0].substr(0, format_column + 6), "SOURCE" + std::string(format_column - 6, ' ') + "FORMAT");
  EXPECT_THAT(table[1], StartsWith(src + "  qcow2   "));
  EXPECT_THAT(table[1], HasSubstr(" KiB  "));
  EXPECT_EQ(table[0].find("SIZE"), table[1].find_first_of("0123456789", format_column + 6));

  auto list = nlohmann::json::parse(ok({"list", "--json"}));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("source"), src);
  EXPECT_EQ(list[0].at("key"), key);
  EXPECT_EQ(list[0].at("format"), "qcow2");
  EXPECT_EQ(list[0].at("size"), fs::file_size(disk_));
  EXPECT_TRUE(list[0].at("manifest_digest").is_null());

  auto by_source = nlohmann::json::parse(ok({"inspect", src, "--json"}));
  EXPECT_EQ(by_source, list[0]);
  std::string human = ok({"inspect", key});
  EXPECT_THAT(human, HasSubstr("format:"));
  EXPECT_THAT(human, HasSubstr(path.string()));

  EXPECT_EQ(ok({"rm", key}), "Removed " + key + "\n");
  EXPECT_EQ(nlohmann::json::parse(ok({"list", "--json"})), nlohmann::json::array());
  EXPECT_EQ(ok({"list"}), "SOURCE  FORMAT  SIZE  FETCHED\n");
  expect_error(image({"rm", src}), "vm_manager::image::not_found");
}

TEST_F(ImageCliTest, TheCacheFollowsXdgCacheHome) {
  const fs::path xdg = tmp_ / "xdg";
  ProcessResult r = image({"pull", "-q", url("disk.qcow2")}, {{"XDG_CACHE_HOME", xdg.string()}, {"VMCTL_IMAGE_CACHE", ""}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");  // --quiet: no download lines
  EXPECT_TRUE(fs::exists(xdg / "vmctl" / "images" / vm_manager::image::sha256_hex(url("disk.qcow2")) / "image"));
  EXPECT_FALSE(fs::exists(cache_));
}

TEST_F(ImageCliTest, FailuresPrintACodeAMessageAndAHint) {
  expect_error(image({"pull", url("missing.qcow2")}), "vm_manager::image::download_failed");
  ProcessResult quiet = image({"pull", "--quiet", url("missing.qcow2")});
  EXPECT_THAT(quiet.err, StartsWith("error[vm_manager::image::download_failed]: ")) << quiet.err;
  EXPECT_EQ(lines_of(quiet.err).size(), 2u) << quiet.err;
  expect_error(image({"pull", url("disk.qcow2"), "--sha256", "xyz"}), "vm_manager::image::bad_checksum");
  expect_error(image({"pull", url("disk.qcow2"), "--sha256", std::string(64, '0')}),
               "vm_manager::image::checksum_mismatch");
  expect_error(image({"pull", "oci://127.0.0.1/Bad:tag"}), "vm_manager::image::bad_source");
  expect_error(image({"inspect", url("disk.qcow2")}), "vm_manager::image::not_found");
  expect_error(image({"list"}, {{"VMCTL_IMAGE_CACHE", "relative/cache"}}), "vm_manager::image::bad_source");
  EXPECT_EQ(nlohmann::json::parse(ok({"list", "--json"})), nlohmann::json::array());

  ProcessResult usage = image({});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_THAT(usage.err, StartsWith("error[vmctl::usage]: "));
  EXPECT_EQ(image({"pull"}).exit_code, 2);
}

}  // namespace
}  // namespace vmctl::test
