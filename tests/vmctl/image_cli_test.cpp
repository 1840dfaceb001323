// vmctl image pull/list/inspect/rm against tests/image/http_server.py on
// 127.0.0.1, with the cache in a temp dir (VMCTL_IMAGE_CACHE or XDG_CACHE_HOME);
// `create --image-url` on the noop backend; the progress bar on a pty.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

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
#include "support/terminal.hpp"

namespace vmctl::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
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

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// Runs argv with stderr on a pseudo-terminal (output post-processing off, so
// the bytes are the program's own); returns the exit code and what the
// terminal showed.
std::pair<int, std::string> run_on_terminal(const std::vector<std::string>& argv,
                                            const std::map<std::string, std::string>& env) {
  Pty pty;
  termios raw = pty.settings();
  raw.c_oflag &= ~static_cast<tcflag_t>(OPOST);
  ::tcsetattr(pty.slave.get(), TCSANOW, &raw);
  ProcessOptions options;
  options.env = env;
  options.stderr_path = ::ttyname(pty.slave.get());
  RunningProcess process(argv, options);
  pty.slave.reset();  // once the child exits, reading the master ends (EIO)
  std::string shown = read_fd_until(pty.master.get(), "", std::chrono::seconds(60));
  return {process.finish().exit_code, shown};
}

// Exit 1 with the given stable code, a one-line message and a help line,
// after whatever progress lines a pull printed (and before vmctl's own
// `  try:` hint, which some codes get).
void expect_error(const ProcessResult& r, const std::string& code) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out, "");
  auto lines = lines_of(r.err);
  if (!lines.empty() && lines.back().starts_with("  try: ")) lines.pop_back();
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

  // Any vmctl command, on this test's data dir and image cache.
  ProcessResult vmctl(const std::vector<std::string>& args, const std::string& cwd = {}) {
    return run_vmctl(data_.string(), args,
                     ProcessOptions{{{"VMCTL_IMAGE_CACHE", cache_.string()}}, 60s, "/dev/null", cwd});
  }
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
  const std::size_t format_column = 14 + src.size() + 2;
  EXPECT_EQ(table[0].substr(0, format_column + 6),
            "KEY           SOURCE" + std::string(src.size() + 2 - 6, ' ') + "FORMAT");
  EXPECT_THAT(table[1], StartsWith(key.substr(0, 12) + "  " + src + "  qcow2   "));
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
  EXPECT_EQ(ok({"list"}), "KEY  SOURCE  FORMAT  SIZE  FETCHED\n");
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

TEST_F(ImageCliTest, KeysCanBeShortenedToAUniquePrefix) {
  const std::string src = url("disk.qcow2");
  ok({"pull", "-q", src});
  const std::string key = vm_manager::image::sha256_hex(src);
  // Two more entries sharing a prefix, made by hand (keys are SHA-256 digests).
  for (const std::string& fake : {"abcd1" + std::string(59, '0'), "abcd2" + std::string(59, '0')}) {
    fs::create_directories(cache_ / fake);
    std::ofstream(cache_ / fake / "image") << "x";
    std::ofstream(cache_ / fake / "meta.json")
        << nlohmann::json{{"source", "src-" + fake.substr(4, 1)}, {"sha256", fake}, {"format", "raw"}, {"size", 1}}
               .dump();
  }
  auto table = lines_of(ok({"list"}));
  ASSERT_EQ(table.size(), 4u);
  EXPECT_THAT(table[1], StartsWith(key.substr(0, 12) + "  " + src + "  "));
  EXPECT_THAT(table[2], StartsWith("abcd10000000  src-1 "));
  EXPECT_THAT(table[3], StartsWith("abcd20000000  src-2 "));

  EXPECT_EQ(nlohmann::json::parse(ok({"inspect", key.substr(0, 12), "--json"})).at("source"), src);
  EXPECT_EQ(nlohmann::json::parse(ok({"inspect", key.substr(0, 4), "--json"})).at("key"), key);
  expect_error(image({"inspect", key.substr(0, 3)}), "vm_manager::image::not_found");

  ProcessResult ambiguous = image({"inspect", "abcd"});
  expect_error(ambiguous, "vm_manager::image::ambiguous");
  EXPECT_THAT(ambiguous.err, HasSubstr("abcd10000000 (src-1), abcd20000000 (src-2)"));
  EXPECT_THAT(ambiguous.err, HasSubstr("\n  try: 'vmctl image list' shows the keys\n"));
  expect_error(image({"rm", "abcd"}), "vm_manager::image::ambiguous");
  EXPECT_EQ(lines_of(ok({"list"})).size(), 4u);

  EXPECT_EQ(ok({"rm", "abcd2"}), "Removed abcd2\n");
  EXPECT_EQ(nlohmann::json::parse(ok({"inspect", "abcd", "--json"})).at("source"), "src-1");
  EXPECT_EQ(ok({"rm", key.substr(0, 6)}), "Removed " + key.substr(0, 6) + "\n");
  EXPECT_FALSE(fs::exists(cache_ / key));
  EXPECT_EQ(lines_of(ok({"list"})).size(), 2u);
}

TEST_F(ImageCliTest, RmRefusesAnImageAVmUsesUnlessForced) {
  const std::string a = url("disk.qcow2");
  const std::string b = url("redirect/disk.qcow2");
  for (const auto& [name, src] : {std::pair{"vm-a", a}, std::pair{"vm-b", b}}) {
    ProcessResult created = vmctl({"create", "--name", name, "--backend", "noop", "--image-url", src, "-q"});
    ASSERT_EQ(created.exit_code, 0) << created.err;
  }
  const std::string key_a = vm_manager::image::sha256_hex(a);
  const std::string key_b = vm_manager::image::sha256_hex(b);

  ProcessResult refused = image({"rm", a});
  expect_error(refused, "vm_manager::image::in_use");
  EXPECT_THAT(refused.err, HasSubstr(key_a.substr(0, 12) + " (" + a + ") is used by VM 'vm-a'"));
  EXPECT_THAT(refused.err, HasSubstr("--force"));
  expect_error(image({"rm", key_b.substr(0, 8)}), "vm_manager::image::in_use");
  EXPECT_TRUE(fs::exists(cache_ / key_a / "image"));
  EXPECT_TRUE(fs::exists(cache_ / key_b / "image"));

  EXPECT_EQ(ok({"rm", "--force", key_a.substr(0, 8)}), "Removed " + key_a.substr(0, 8) + "\n");
  EXPECT_FALSE(fs::exists(cache_ / key_a));

  ASSERT_EQ(vmctl({"destroy", "vm-b"}).exit_code, 0);
  EXPECT_EQ(ok({"rm", b}), "Removed " + b + "\n");
  EXPECT_EQ(nlohmann::json::parse(ok({"list", "--json"})), nlohmann::json::array());
}

TEST_F(ImageCliTest, CreateWithAWrongChecksumCreatesNothing) {
  ProcessResult r = vmctl({"create", "--name", "web", "--backend", "noop", "--image-url", url("disk.qcow2"),
                           "--sha256", std::string(64, '0')});
  expect_error(r, "vm_manager::image::checksum_mismatch");
  EXPECT_THAT(r.err, HasSubstr(vm_manager::image::sha256_file(disk_)));
  EXPECT_EQ(nlohmann::json::parse(vmctl({"list", "--json"}).out), nlohmann::json::array());
  EXPECT_EQ(nlohmann::json::parse(ok({"list", "--json"})), nlohmann::json::array());
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(cache_, ec)) {
    EXPECT_EQ(entry.path().extension(), ".lock") << "left behind: " << entry.path();
  }
  // The right checksum then works, and the name is free.
  ProcessResult right = vmctl({"create", "--name", "web", "--backend", "noop", "--image-url", url("disk.qcow2"),
                               "--sha256", vm_manager::image::sha256_file(disk_)});
  EXPECT_EQ(right.exit_code, 0) << right.err;
}

TEST_F(ImageCliTest, CreateFromALocalCompressedImageUsesItDecompressed) {
  ASSERT_EQ(run_process({"xz", "-k", "-f", disk_.string()}).exit_code, 0);
  ProcessResult created =
      vmctl({"create", "--name", "xzvm", "--backend", "noop", "--image-url", "./disk.qcow2.xz"}, served_.string());
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_THAT(created.err, HasSubstr("Decompressing " + (served_ / "disk.qcow2.xz").string()));
  auto list = nlohmann::json::parse(ok({"list", "--json"}));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("source"), (served_ / "disk.qcow2.xz").string());
  EXPECT_EQ(list[0].at("compression"), "xz");
  EXPECT_EQ(read_bytes(list[0].at("path").get<std::string>()), read_bytes(disk_));
  // The VM's record names the decompressed image, so rm refuses it.
  std::string record = read_bytes(data_ / "vms" / "xzvm" / "vm.json");
  EXPECT_THAT(record, HasSubstr(list[0].at("path").get<std::string>())) << record;
  expect_error(image({"rm", (served_ / "disk.qcow2.xz").string()}), "vm_manager::image::in_use");
  // An uncompressed file is still used in place.
  ProcessResult plain = vmctl({"create", "--name", "plain", "--backend", "noop", "--image-url", disk_.string()});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(nlohmann::json::parse(ok({"list", "--json"})).size(), 1u);
}

// Any image file, cached or not, as qemu-img describes it.
TEST_F(ImageCliTest, InspectDescribesAnyImageFile) {
  const fs::path overlay = tmp_ / "overlay.qcow2";
  ASSERT_EQ(run_process({"qemu-img", "create", "-q", "-f", "qcow2", "-b", disk_.string(), "-F", "qcow2",
                         overlay.string()})
                .exit_code,
            0);
  auto j = nlohmann::json::parse(ok({"inspect", overlay.string(), "--json"}));
  EXPECT_EQ(j.at("path"), overlay.string());
  EXPECT_EQ(j.at("format"), "qcow2");
  EXPECT_EQ(j.at("virtual_size"), 64u << 20);
  EXPECT_GT(j.at("actual_size").get<std::uint64_t>(), 0u);
  EXPECT_EQ(j.at("backing_file"), disk_.string());
  EXPECT_EQ(j.at("backing_format"), "qcow2");
  const std::string human = ok({"inspect", overlay.string()});
  EXPECT_THAT(human, HasSubstr("format:          qcow2\n"));
  EXPECT_THAT(human, HasSubstr("virtual_size:    67108864\n"));
  EXPECT_THAT(human, HasSubstr("backing_file:    " + disk_.string() + "\n"));

  // A raw file, by a path relative to the current folder; no backing file.
  ASSERT_EQ(run_process({"qemu-img", "create", "-q", "-f", "raw", (served_ / "plain.img").string(), "1M"}).exit_code, 0);
  ProcessResult raw = vmctl({"image", "inspect", "plain.img", "--json"}, served_.string());
  ASSERT_EQ(raw.exit_code, 0) << raw.err;
  auto r = nlohmann::json::parse(raw.out);
  EXPECT_EQ(r.at("path"), (served_ / "plain.img").string());
  EXPECT_EQ(r.at("format"), "raw");
  EXPECT_EQ(r.at("virtual_size"), 1u << 20);
  EXPECT_TRUE(r.at("backing_file").is_null());

  // A backing file that is gone still lets the overlay be described.
  fs::remove(disk_);
  EXPECT_EQ(nlohmann::json::parse(ok({"inspect", overlay.string(), "--json"})).at("backing_file"), disk_.string());
  expect_error(image({"inspect", (tmp_ / "missing.qcow2").string()}), "vm_manager::image::not_found");
  // Neither a file nor anything cached.
  expect_error(image({"inspect", tmp_.path().string()}), "vm_manager::image::not_found");
}

// pull --name: the name stands for the source in --image-url, VMFiles and
// image inspect; a file of that name in the current folder still wins.
TEST_F(ImageCliTest, PullWithANameThatCreateAndVmfilesUse) {
  const std::string src = url("disk.qcow2");
  ProcessResult pulled = image({"pull", src, "--name", "tiny-1.0"});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  EXPECT_THAT(pulled.out, HasSubstr("Named it tiny-1.0\n"));
  const fs::path path = cache_ / vm_manager::image::sha256_hex(src) / "image";
  EXPECT_EQ(nlohmann::json::parse(ok({"inspect", "tiny-1.0", "--json"})),
            nlohmann::json::parse(ok({"inspect", src, "--json"})));

  ProcessResult created = vmctl({"create", "--name", "web", "--backend", "noop", "--image-url", "tiny-1.0", "-q"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_THAT(read_bytes(data_ / "vms" / "web" / "vm.json"), HasSubstr("\"" + path.string() + "\""));

  const fs::path project = tmp_ / "project";
  fs::create_directories(project);
  std::ofstream(project / "VMFile.kdl") << "vm \"fromfile\" {\n    image-url \"tiny-1.0\"\n    backend \"noop\"\n}\n";
  ProcessResult up = vmctl({"up"}, project.string());
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  EXPECT_THAT(read_bytes(data_ / "vms" / "fromfile" / "vm.json"), HasSubstr("\"" + path.string() + "\""));
  ProcessResult again = vmctl({"up"}, project.string());
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_THAT(again.out, Not(HasSubstr("drifted"))) << "the name resolves to the image the VM has";

  // Naming again replaces; naming a name names its source.
  ASSERT_EQ(image({"pull", url("redirect/disk.qcow2"), "--name", "tiny-1.0"}).exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(ok({"inspect", "tiny-1.0", "--json"})).at("source"), url("redirect/disk.qcow2"));
  ASSERT_EQ(image({"pull", "tiny-1.0", "--name", "tiny"}).exit_code, 0);
  EXPECT_EQ(nlohmann::json::parse(ok({"inspect", "tiny", "--json"})).at("source"), url("redirect/disk.qcow2"));

  // A file of that name in the current folder is a path, as before.
  ASSERT_EQ(run_process({"qemu-img", "create", "-q", "-f", "qcow2", (project / "tiny").string(), "1M"}).exit_code, 0);
  ProcessResult local = vmctl({"create", "--name", "local", "--backend", "noop", "--image-url", "tiny", "-q"},
                              project.string());
  ASSERT_EQ(local.exit_code, 0) << local.err;
  EXPECT_THAT(read_bytes(data_ / "vms" / "local" / "vm.json"), HasSubstr("\"" + (project / "tiny").string() + "\""));

  ProcessResult unknown = vmctl({"create", "--name", "nope", "--backend", "noop", "--image-url", "no-such-name"});
  expect_error(unknown, "vm_manager::image::not_found");
  EXPECT_THAT(unknown.err, HasSubstr("no image was given this name either")) << unknown.err;
  ProcessResult bad = image({"pull", src, "--name", "../up"});
  EXPECT_THAT(bad.err, HasSubstr("error[vm_manager::image::bad_source]: '../up' is not a valid image name")) << bad.err;
}

TEST_F(ImageCliTest, PullDrawsAProgressBarOnATerminal) {
  Watchdog watchdog(120);
  const std::map<std::string, std::string> env{{"VMCTL_IMAGE_CACHE", cache_.string()}};
  // About a second of download: the bar is redrawn in place, and ends at 100%.
  auto [code, shown] = run_on_terminal(vmctl_argv(data_.string(), {"image", "pull", url("trickle/disk.qcow2")}), env);
  EXPECT_EQ(code, 0) << shown;
  EXPECT_THAT(shown, HasSubstr("Downloading " + url("trickle/disk.qcow2") + "\n"));
  EXPECT_GE(count_of(shown, "\r["), 2u) << shown;  // at least one redraw during the download, and the final one
  const std::size_t last = shown.rfind("\r[");
  ASSERT_NE(last, std::string::npos) << shown;
  const std::string final_bar = shown.substr(last, shown.find('\n', last) - last);
  EXPECT_THAT(final_bar, StartsWith("\r[" + std::string(30, '#') + "] 100% ")) << shown;
  EXPECT_THAT(shown, HasSubstr("Downloaded " + url("trickle/disk.qcow2")));

  // A fast download (well under the 200 ms redraw period) still ends with 100%.
  auto [fast_code, fast] = run_on_terminal(vmctl_argv(data_.string(), {"image", "pull", url("disk.qcow2")}), env);
  EXPECT_EQ(fast_code, 0) << fast;
  EXPECT_THAT(fast, HasSubstr("\r[" + std::string(30, '#') + "] 100% ")) << fast;

  // --quiet on a terminal: nothing at all.
  auto [quiet_code, quiet] =
      run_on_terminal(vmctl_argv(data_.string(), {"image", "pull", "-q", url("redirect/disk.qcow2")}), env);
  EXPECT_EQ(quiet_code, 0);
  EXPECT_EQ(quiet, "");
}

TEST_F(ImageCliTest, ARetryIsShownAndThePullSucceeds) {
  const std::string src = url("once503/disk.qcow2");
  ProcessResult r = image({"pull", src});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("Pulled " + src + ": "));
  auto lines = lines_of(r.err);
  ASSERT_EQ(lines.size(), 3u) << r.err;
  EXPECT_EQ(lines[0], "Downloading " + src);
  EXPECT_THAT(lines[1], StartsWith("Retrying " + src + " in "));
  EXPECT_THAT(lines[1], HasSubstr(": HTTP 503 (attempt 2 of 5)"));
  EXPECT_THAT(lines[2], StartsWith("Downloaded " + src + " ("));

  // On a terminal the bar that was cut short says why, and the next one counts the attempt.
  fs::copy_file(disk_, served_ / "again.qcow2");  // the server fails each file's first request only
  const std::string again = url("once503/again.qcow2");
  auto [code, shown] = run_on_terminal(vmctl_argv(data_.string(), {"image", "pull", again}),
                                       {{"VMCTL_IMAGE_CACHE", cache_.string()}});
  EXPECT_EQ(code, 0) << shown;
  EXPECT_THAT(shown, HasSubstr("\r0.0 B  retrying in ")) << shown;  // no byte yet: not the error page's
  EXPECT_THAT(shown, HasSubstr(": HTTP 503\nRetrying " + again + " in ")) << shown;
  EXPECT_THAT(shown, HasSubstr("100% ")) << shown;
  EXPECT_THAT(shown, HasSubstr("(attempt 2/5)")) << shown;
}

TEST_F(ImageCliTest, A404FailsAtOnce) {
  ProcessResult r = image({"pull", url("missing.qcow2")});
  expect_error(r, "vm_manager::image::download_failed");
  EXPECT_THAT(r.err, HasSubstr("returned error: 404"));
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("Retrying")));
}

}  // namespace
}  // namespace vmctl::test
