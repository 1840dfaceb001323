// The NoCloud seed ISO, checked with independent readers: xorriso (the
// libburnia reference tool), blkid (what guests use to find "cidata") and
// PyYAML (what cloud-init parses meta-data with).
#include "cloudinit/seed_iso.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "os/files.hpp"
#include "os/process.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace {
namespace fs = std::filesystem;
using vm_manager::Error;
using vm_manager::cloudinit::make_meta_data;
using vm_manager::cloudinit::SeedFiles;
using vm_manager::cloudinit::write_seed_iso;
using vmctl::test::TempDir;

// ------------------------------------------------------------- helpers --

// Runs an external reader; a failure (or a missing tool) fails the test with
// what the tool printed.
std::string tool_output(std::vector<std::string> argv, std::optional<std::string> stdin_data = std::nullopt) {
  vm_manager::os::ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.stdin_data = std::move(stdin_data);
  auto result = vm_manager::os::run_process(spec, std::chrono::seconds(60));
  if (!result.ok()) {
    throw std::runtime_error(vm_manager::os::describe(spec.argv) + " failed (exit " +
                             std::to_string(result.exit_code) + "): " + result.err + result.out);
  }
  return result.out;
}

// -no_rc first: ignore any xorriso startup files on the machine.
std::string xorriso(const fs::path& iso, std::vector<std::string> commands,
                    std::vector<std::string> before_indev = {}) {
  std::vector<std::string> argv{"xorriso", "-no_rc"};
  argv.insert(argv.end(), before_indev.begin(), before_indev.end());
  argv.insert(argv.end(), {"-indev", iso.string()});
  argv.insert(argv.end(), commands.begin(), commands.end());
  return tool_output(argv);
}

// blkid lives in sbin, which a non-root PATH often lacks.
std::string blkid_program() {
  for (const char* candidate : {"/usr/sbin/blkid", "/sbin/blkid"}) {
    if (fs::exists(candidate)) return candidate;
  }
  return "blkid";
}

// -c /dev/null: probe the file itself and leave the system's blkid cache alone.
std::string blkid(const fs::path& iso) {
  return tool_output({blkid_program(), "-c", "/dev/null", "-o", "export", iso.string()});
}

// Extracts the whole image with xorriso (reading Rock Ridge names) into a
// fresh folder and returns it.
fs::path extract(const fs::path& iso, const fs::path& out) {
  fs::create_directories(out);
  xorriso(iso, {"-osirrox", "on", "-extract", "/", out.string()});
  // The files come out 0444; keep the folder writable so TempDir can clean up.
  fs::permissions(out, fs::perms::owner_all, fs::perm_options::add);
  return out;
}

// The line of an xorriso -ls listing that ends with 'name'; empty if none.
std::string line_naming(const std::string& listing, const std::string& name) {
  auto end = listing.find("'" + name + "'\n");
  if (end == std::string::npos) return {};
  auto begin = listing.rfind('\n', end);
  begin = begin == std::string::npos ? 0 : begin + 1;
  return listing.substr(begin, end - begin);
}

std::set<std::string> file_names(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

std::string content_of(const fs::path& file) {
  auto content = vm_manager::os::read_file(file);
  if (!content) throw std::runtime_error("missing " + file.string());
  return *content;
}

std::string all_byte_values() {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  return bytes;
}

// Deterministic pseudo-random bytes: incompressible, every value present.
std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 gen(seed);
  std::string bytes(size, '\0');
  for (auto& b : bytes) b = static_cast<char>(gen() & 0xFF);
  return bytes;
}

SeedFiles full_seed() {
  return SeedFiles{
      "#cloud-config\n" + all_byte_values(),
      make_meta_data("iid-test-1", "vm1"),
      std::string("version: 2\nethernets:\n  eth0:\n    dhcp4: true\n"),
  };
}

fs::perms mode_of(const fs::path& file) { return fs::status(file).permissions() & fs::perms::mask; }

// Lowers RLIMIT_FSIZE so writes past `bytes` fail with EFBIG: a failing disk
// that even root cannot write past. SIGXFSZ is ignored meanwhile, or the
// kernel would kill the test instead of failing the write.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    rlimit lowered{bytes, saved_.rlim_max};
    if (::setrlimit(RLIMIT_FSIZE, &lowered) != 0) throw std::runtime_error("setrlimit failed");
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  sighandler_t old_handler_ = SIG_DFL;
};

// ----------------------------------------------------------- the image --

TEST(SeedIso, VolumeIdIsCidata) {
  TempDir tmp;
  auto iso = tmp / "seed.iso";
  write_seed_iso(iso, full_seed());
  std::string pvd = xorriso(iso, {"-pvd_info"});
  EXPECT_NE(pvd.find("Volume Id    : cidata\n"), std::string::npos) << pvd;
}

TEST(SeedIso, BlkidSeesLabelCidataAndTypeIso9660) {
  TempDir tmp;
  auto iso = tmp / "seed.iso";
  write_seed_iso(iso, full_seed());
  std::string tags = blkid(iso);
  EXPECT_NE(tags.find("\nLABEL=cidata\n"), std::string::npos) << tags;
  EXPECT_NE(tags.find("\nTYPE=iso9660\n"), std::string::npos) << tags;
}

TEST(SeedIso, OffersRockRidgeAndJoliet) {
  TempDir tmp;
  auto iso = tmp / "seed.iso";
  write_seed_iso(iso, full_seed());
  std::string toc = xorriso(iso, {"-toc"});
  EXPECT_NE(toc.find("ISO offers   : Rock_Ridge Joliet\n"), std::string::npos) << toc;
  EXPECT_NE(toc.find("ISO loaded   : Rock_Ridge\n"), std::string::npos) << toc;
}

TEST(SeedIso, JolietTreeAloneHasTheRealNames) {
  TempDir tmp;
  auto iso = tmp / "seed.iso";
  write_seed_iso(iso, full_seed());
  // norock: read the Joliet tree, as a reader without Rock Ridge would.
  std::string listing = xorriso(iso, {"-toc", "-ls", "/"}, {"-read_fs", "norock"});
  EXPECT_NE(listing.find("ISO loaded   : Joliet\n"), std::string::npos) << listing;
  EXPECT_NE(listing.find("'meta-data'\n'network-config'\n'user-data'\n"), std::string::npos) << listing;
}

TEST(SeedIso, PlainIso9660NamesAreMangledSoTheExtensionsMatter) {
  TempDir tmp;
  auto iso = tmp / "seed.iso";
  write_seed_iso(iso, full_seed());
  std::string listing = xorriso(iso, {"-ls", "/"}, {"-read_fs", "ecma119"});
  EXPECT_EQ(listing.find("'user-data'"), std::string::npos) << listing;
  EXPECT_NE(listing.find("'USER_DATA'"), std::string::npos) << listing;
}

TEST(SeedIso, FilesAreReadOnlyAndOwnedByRootInside) {
  TempDir tmp;
  auto iso = tmp / "seed.iso";
  write_seed_iso(iso, full_seed());
  std::string listing = xorriso(iso, {"-lsl", "/"});
  for (const char* name : {"meta-data", "network-config", "user-data"}) {
    // mode, link count, uid, gid as Rock Ridge records them
    EXPECT_EQ(line_naming(listing, name).rfind("-r--r--r--    1 0        0  ", 0), 0u) << listing;
  }
  std::string root = xorriso(iso, {"-lsdl", "/"});
  EXPECT_EQ(line_naming(root, "/").rfind("dr-xr-xr-x    1 0        0  ", 0), 0u) << root;
}

// Written by an unprivileged user, the files must still belong to root in
// the guest. When the test runs as root it forks a child that drops to
// nobody to write the seed, or the check could not fail.
TEST(SeedIso, OwnerInsideIsRootWhoeverWritesTheSeed) {
  TempDir tmp;
  auto iso = tmp / "seed.iso";
  if (::geteuid() == 0) {
    ::chmod(tmp.path().c_str(), 0777);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      int rc = 1;
      if (::setgid(65534) == 0 && ::setuid(65534) == 0) {
        try {
          write_seed_iso(iso, full_seed());
          rc = 0;
        } catch (...) {
        }
      }
      ::_exit(rc);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the unprivileged writer failed";
    ASSERT_EQ(fs::status(iso).permissions() & fs::perms::mask, fs::perms::owner_read | fs::perms::owner_write);
    struct stat st {};
    ASSERT_EQ(::stat(iso.c_str(), &st), 0);
    ASSERT_EQ(st.st_uid, 65534u);  // the writer really was not root
  } else {
    write_seed_iso(iso, full_seed());
  }
  // "-r--r--r--    1 <uid>        <gid>  …": every file owned by 0:0, none by the writer.
  uid_t writer = ::geteuid() == 0 ? 65534 : ::geteuid();
  std::string listing = xorriso(iso, {"-lsl", "/"});
  EXPECT_EQ(listing.find("    1 " + std::to_string(writer) + " "), std::string::npos) << listing;
  const std::string root_owned_file = "-r--r--r--    1 0        0 ";
  std::size_t root_owned = 0;
  for (auto at = listing.find(root_owned_file); at != std::string::npos; at = listing.find(root_owned_file, at + 1)) {
    ++root_owned;
  }
  EXPECT_EQ(root_owned, 3u) << listing;
  std::string root = xorriso(iso, {"-lsdl", "/"});
  EXPECT_NE(root.find("dr-xr-xr-x    1 0        0 "), std::string::npos) << root;
}

TEST(SeedIso, ExtractsExactNamesAndByteIdenticalContent) {
  TempDir tmp;
  auto iso = tmp / "seed.iso";
  SeedFiles seed = full_seed();
  write_seed_iso(iso, seed);
  auto out = extract(iso, tmp / "out");
  EXPECT_EQ(file_names(out), (std::set<std::string>{"meta-data", "network-config", "user-data"}));
  EXPECT_EQ(content_of(out / "user-data"), seed.user_data);
  EXPECT_EQ(content_of(out / "meta-data"), seed.meta_data);
  EXPECT_EQ(content_of(out / "network-config"), *seed.network_config);
}

TEST(SeedIso, OneMegabyteUserDataSurvivesIntact) {
  TempDir tmp;
  auto iso = tmp / "seed.iso";
  SeedFiles seed{random_bytes(1 << 20, 42), make_meta_data("iid-big", "big"), std::nullopt};
  write_seed_iso(iso, seed);
  auto out = extract(iso, tmp / "out");
  std::string user_data = content_of(out / "user-data");
  EXPECT_EQ(user_data.size(), seed.user_data.size());
  EXPECT_TRUE(user_data == seed.user_data) << "1 MB user-data differs after extraction";
}

TEST(SeedIso, WithoutNetworkConfigTheFileIsAbsent) {
  TempDir tmp;
  auto iso = tmp / "seed.iso";
  write_seed_iso(iso, SeedFiles{"#cloud-config\n", make_meta_data("iid-2", "vm2"), std::nullopt});
  auto out = extract(iso, tmp / "out");
  EXPECT_EQ(file_names(out), (std::set<std::string>{"meta-data", "user-data"}));
}

TEST(SeedIso, EmptyFilesAreAllowed) {
  TempDir tmp;
  auto iso = tmp / "seed.iso";
  write_seed_iso(iso, SeedFiles{"", "", std::string()});
  auto out = extract(iso, tmp / "out");
  EXPECT_EQ(file_names(out), (std::set<std::string>{"meta-data", "network-config", "user-data"}));
  EXPECT_EQ(content_of(out / "user-data"), "");
  EXPECT_EQ(content_of(out / "network-config"), "");
}

// --------------------------------------------------- the file on disk --

TEST(SeedIso, OutputFileIsMode0600) {
  TempDir tmp;
  auto iso = tmp / "seed.iso";
  write_seed_iso(iso, full_seed());
  EXPECT_EQ(mode_of(iso), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(file_names(tmp.path()), std::set<std::string>{"seed.iso"});  // no temp file left
}

TEST(SeedIso, ReplacesAnExistingSeed) {
  TempDir tmp;
  auto iso = tmp / "seed.iso";
  write_seed_iso(iso, full_seed());
  ::chmod(iso.c_str(), 0644);  // a stale mode must not survive the replacement
  SeedFiles second{"#cloud-config\nhostname: second\n", make_meta_data("iid-second", "second"), std::nullopt};
  write_seed_iso(iso, second);

  EXPECT_EQ(mode_of(iso), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(file_names(tmp.path()), std::set<std::string>{"seed.iso"});
  auto out = extract(iso, tmp / "out");
  EXPECT_EQ(file_names(out), (std::set<std::string>{"meta-data", "user-data"}));
  EXPECT_EQ(content_of(out / "user-data"), second.user_data);
  EXPECT_EQ(content_of(out / "meta-data"), second.meta_data);
}

TEST(SeedIso, MissingFolderRaisesSeedFailed) {
  TempDir tmp;
  auto iso = tmp / "missing" / "seed.iso";
  try {
    write_seed_iso(iso, full_seed());
    FAIL() << "expected Error(seed_failed)";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), vm_manager::errc::seed_failed);
    EXPECT_NE(e.message().find(iso.string()), std::string::npos) << e.message();
    EXPECT_NE(e.message().find("No such file or directory"), std::string::npos) << e.message();
    EXPECT_EQ(e.message().find('\n'), std::string::npos) << "one line: " << e.message();
    EXPECT_NE(e.help().find((tmp / "missing").string()), std::string::npos) << e.help();
  }
  EXPECT_FALSE(fs::exists(tmp / "missing"));
}

TEST(SeedIso, FailedWriteLeavesTheExistingSeedUntouched) {
  TempDir tmp;
  auto iso = tmp / "seed.iso";
  write_seed_iso(iso, full_seed());
  std::string before = content_of(iso);

  SeedFiles big{random_bytes(1 << 20, 7), make_meta_data("iid-new", "new"), std::nullopt};
  try {
    FileSizeLimit limit(64 * 1024);  // the new 1 MB image cannot be written in full
    write_seed_iso(iso, big);
    FAIL() << "expected Error(seed_failed)";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), vm_manager::errc::seed_failed);
    EXPECT_NE(e.message().find("File too large"), std::string::npos) << e.message();
    EXPECT_FALSE(e.help().empty());
  }
  EXPECT_TRUE(content_of(iso) == before) << "the previous seed changed";
  EXPECT_EQ(mode_of(iso), fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(file_names(tmp.path()), std::set<std::string>{"seed.iso"});  // temp file removed
}

TEST(SeedIso, ConcurrentWritersEachGetTheirOwnSeed) {
  TempDir tmp;
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::vector<std::string> errors(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        SeedFiles seed{random_bytes(64 * 1024, static_cast<unsigned>(t)), make_meta_data("iid", "vm"), std::nullopt};
        write_seed_iso(tmp / ("seed" + std::to_string(t) + ".iso"), seed);
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(errors[t], "") << "thread " << t;
    auto out = extract(tmp / ("seed" + std::to_string(t) + ".iso"), tmp / ("out" + std::to_string(t)));
    EXPECT_TRUE(content_of(out / "user-data") == random_bytes(64 * 1024, static_cast<unsigned>(t))) << "thread " << t;
  }
}

// ----------------------------------------------------------- meta-data --

// cloud-init reads meta-data with yaml.safe_load; check our output the same
// way, against the values we meant (passed as argv, which carries any byte
// but NUL).
void expect_pyyaml_reads(const std::string& yaml, const std::string& instance_id, const std::string& hostname) {
  const std::string script =
      "import sys, yaml\n"
      "doc = yaml.safe_load(sys.stdin.read())\n"
      "want = {'instance-id': sys.argv[1], 'local-hostname': sys.argv[2]}\n"
      "if doc != want:\n"
      "    print('got', repr(doc), 'want', repr(want))\n"
      "    sys.exit(1)\n";
  // Debian's python3-yaml is installed for the system interpreter.
  EXPECT_NO_THROW(tool_output({"/usr/bin/python3", "-c", script, instance_id, hostname}, yaml));
}

TEST(MetaData, PlainValuesAreQuoted) {
  EXPECT_EQ(make_meta_data("iid-vm1", "vm1"), "instance-id: \"iid-vm1\"\nlocal-hostname: \"vm1\"\n");
}

TEST(MetaData, HostileValuesStaySingleScalars) {
  const std::string instance_id = "a\"b\\c: d\n- e # f\nlocal-hostname: evil";
  const std::string hostname = "x\ty\r\x7fz\x01: '{[&*!|>%@`";
  const std::string yaml = make_meta_data(instance_id, hostname);
  EXPECT_EQ(yaml,
            "instance-id: \"a\\\"b\\\\c: d\\x0A- e # f\\x0Alocal-hostname: evil\"\n"
            "local-hostname: \"x\\x09y\\x0D\\x7Fz\\x01: '{[&*!|>%@`\"\n");
  expect_pyyaml_reads(yaml, instance_id, hostname);
}

TEST(MetaData, EmptyValuesStayStrings) {
  EXPECT_EQ(make_meta_data("", ""), "instance-id: \"\"\nlocal-hostname: \"\"\n");
  expect_pyyaml_reads(make_meta_data("", ""), "", "");
}

TEST(MetaData, YamlLookalikesStayStrings) {
  // Unquoted, these would read as null, a boolean, a number and an alias.
  for (const std::string value : {"null", "yes", "0x1F", "*anchor", "~"}) {
    expect_pyyaml_reads(make_meta_data(value, value), value, value);
  }
}

TEST(MetaData, UnicodeIsKeptAndYamlLineBreaksAreEscaped) {
  // é stays verbatim; NEL (U+0085) and U+2028 would be line breaks to PyYAML.
  const std::string value = "caf\xC3\xA9\xC2\x85x\xE2\x80\xA8y";
  const std::string yaml = make_meta_data(value, "h");
  EXPECT_EQ(yaml, "instance-id: \"caf\xC3\xA9\\x85x\\u2028y\"\nlocal-hostname: \"h\"\n");
  expect_pyyaml_reads(yaml, value, "h");
}

TEST(MetaData, InvalidUtf8BytesAreEscapedOneByOne) {
  // A stray byte, an overlong '/', and a truncated sequence at the end.
  EXPECT_EQ(make_meta_data("a\xFF" "b\xC0\xAF" "c\xE2\x80", "h"),
            "instance-id: \"a\\xFFb\\xC0\\xAFc\\xE2\\x80\"\nlocal-hostname: \"h\"\n");
}

}  // namespace
