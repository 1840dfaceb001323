// What vmctl create refuses to take in (issue 12 §5): user-data that is a
// FIFO, a device, too large or holds NUL bytes; an invalid --hostname; and
// a raw --image with nothing recognisable in it unless --force. Each is
// `error[code]: message`, a help line and exit 1, with nothing created.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>

#include "vm_manager/spec_check.hpp"
#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

class InputLimitsTest : public VmctlTest {
 protected:
  // Exit 1, `error[code]: message` on the first line, a help line after it.
  void expect_error(const ProcessResult& r, const std::string& code, const std::string& message) {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(r.out, "");
    const std::string first = r.err.substr(0, r.err.find('\n'));
    EXPECT_EQ(first, "error[" + code + "]: " + message) << r.err;
    EXPECT_EQ(r.err.substr(first.size() + 1, 8), "  help: ") << r.err;
    EXPECT_FALSE(fs::exists(data_ / "vms" / "web")) << "a refused create left a VM behind";
  }

  ProcessResult create_with(std::vector<std::string> more) {
    std::vector<std::string> args{"create", "--name", "web", "--backend", "noop"};
    args.insert(args.end(), more.begin(), more.end());
    return vmctl(args);
  }

  fs::path file_of(const std::string& name, const std::string& bytes) {
    fs::path path = files_ / name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  TempDir files_;
};

TEST_F(InputLimitsTest, UserDataFifoIsRefusedAtOnce) {
  fs::path fifo = files_ / "user-data";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto started = std::chrono::steady_clock::now();
  ProcessResult r = create_with({"--cloud-init", fifo.string()});
  EXPECT_LT(std::chrono::steady_clock::now() - started, 60s) << "a FIFO without writer would block forever";
  expect_error(r, "vm_manager::input::not_regular", "cloud-init user-data " + fifo.string() + " is a FIFO");
  EXPECT_THAT(r.err, HasSubstr("  help: give the path of a regular file\n"));
}

TEST_F(InputLimitsTest, UserDataDevZeroIsRefused) {
  expect_error(create_with({"--cloud-init", "/dev/zero"}), "vm_manager::input::not_regular",
               "cloud-init user-data /dev/zero is a character device");
}

TEST_F(InputLimitsTest, UserDataAtTheLimitIsTakenOneByteMoreIsNot) {
  const std::string header = "#cloud-config\n# ";
  fs::path max = file_of("max.yaml", header + std::string(vm_manager::kMaxUserDataBytes - header.size() - 1, 'x') + "\n");
  ASSERT_EQ(fs::file_size(max), vm_manager::kMaxUserDataBytes);
  ok({"create", "--name", "big", "--backend", "noop", "--cloud-init", max.string()});

  fs::path over = file_of("over.yaml", header + std::string(vm_manager::kMaxUserDataBytes - header.size(), 'x') + "\n");
  ProcessResult r = create_with({"--cloud-init", over.string()});
  expect_error(r, "vm_manager::input::too_large", "cloud-init user-data " + over.string() + " is larger than 4 MiB");
  EXPECT_THAT(r.err, HasSubstr("  help: keep it to 4 MiB at most\n"));
}

TEST_F(InputLimitsTest, HugeSparseUserDataIsRefusedWithoutReadingIt) {
  fs::path sparse = file_of("sparse.yaml", "");
  fs::resize_file(sparse, 1ull << 40);
  expect_error(create_with({"--cloud-init", sparse.string()}), "vm_manager::input::too_large",
               "cloud-init user-data " + sparse.string() + " is larger than 4 MiB");
}

TEST_F(InputLimitsTest, NulBytesInUserDataAreRefused) {
  fs::path nul = file_of("nul.yaml", std::string("#cloud-config\nruncmd: []\n\0\0", 27));
  ProcessResult r = create_with({"--cloud-init", nul.string()});
  expect_error(r, "vm_manager::cloudinit::invalid_user_data", "the user-data holds a NUL byte at offset 25");
  EXPECT_THAT(r.err, HasSubstr("plain UTF-8 text")) << r.err;
}

TEST_F(InputLimitsTest, InvalidHostnameIsRefused) {
  expect_error(create_with({"--hostname", "web_1"}), "vm_manager::spec::invalid",
               "invalid hostname 'web_1': it contains '_'");
  expect_error(create_with({"--hostname", "-web"}), "vm_manager::spec::invalid",
               "invalid hostname '-web': the label '-web' begins or ends with '-'");
  expect_error(create_with({"--hostname", std::string(64, 'a')}), "vm_manager::spec::invalid",
               "invalid hostname '" + std::string(64, 'a') +
                   "': the label 'aaaaaaaaaaaaaaaa…' is 64 characters long (at most 63)");
  ok({"create", "--name", "web", "--backend", "noop", "--hostname", "Web-1.example.com"});
}

// A FIFO or device as --ssh-key is refused by create's own file check; a
// huge file reaches the key reader, which refuses it without reading it.
TEST_F(InputLimitsTest, HugeSshPublicKeyIsRefused) {
  fs::path fifo = files_ / "fifo.pub";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ProcessResult r = create_with({"--ssh-key", fifo.string()});
  expect_error(r, "vm_manager::spec::invalid", "public key " + fifo.string() + " does not exist or is not a file");

  fs::path huge = file_of("huge.pub", "");
  fs::resize_file(huge, 1ull << 40);
  expect_error(create_with({"--ssh-key", huge.string()}), "vm_manager::ssh::bad_key",
               "SSH public key file " + huge.string() + " is larger than 64 KiB");
}

#if VMCTL_WITH_QEMU
// The qemu backend reads the image with qemu-img before it makes the disk;
// a text file or a sector-less one is refused unless --force, which warns.
TEST_F(InputLimitsTest, UnrecognisedRawImageNeedsForce) {
  fs::path text = file_of("notes.txt", std::string(99, 'x') + "\n");
  std::vector<std::string> args{"create", "--name", "web", "--backend", "qemu", "--image", text.string(),
                                "--network", "none"};
  ProcessResult refused = vmctl(args);
  expect_error(refused, "vm_manager::image::unrecognised_raw",
               "raw image " + text.string() + " is 100 bytes, smaller than one sector (512 bytes)");
  EXPECT_THAT(refused.err, HasSubstr("  try: pass another --image, or add --force to use this one as it is\n"));

  args.push_back("--force");
  ProcessResult forced = vmctl(args);
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_THAT(forced.err, HasSubstr("raw image " + text.string() +
                                    " is 100 bytes, smaller than one sector (512 bytes); using it as asked"));
  EXPECT_TRUE(fs::exists(data_ / "vms" / "web" / "vm.json"));
}
#endif

}  // namespace
}  // namespace vmctl::test
