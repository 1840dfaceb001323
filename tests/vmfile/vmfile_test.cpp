// Tests for the VMFile.kdl schema (src/vmfile/vmfile*.cpp): every node and
// its defaults, every validation problem with its position and hint, path
// resolution, KDL 1 syntax, and the examples documented for the existing
// (Rust) vmctl, which must keep working unchanged.
#include "vmfile/vmfile.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "ssh/keys.hpp"
#include "support/temp_dir.hpp"
#include "util/did_you_mean.hpp"

namespace {

namespace fs = std::filesystem;
using namespace vm_manager;
using vmfile::Problem;

constexpr std::string_view kSha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

// A project folder with real files for the paths the VMFiles name, and a
// home folder (given as LoadOptions::home) holding an ed25519 key pair.
class VmFile : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = dir_.path() / "home";
    fs::create_directories(home_ / ".ssh");
    key_ = ssh::generate_key_files(home_ / ".ssh/id_ed25519", "test@vmfile");
    touch("disk.qcow2");
    touch("home/images/debian-12-generic-amd64.qcow2");
  }

  void touch(const std::string& relative, const std::string& content = "x") {
    fs::path path = dir_.path() / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << content;
  }

  fs::path project() const { return dir_.path(); }
  fs::path file_path() const { return dir_.path() / "VMFile.kdl"; }

  vmfile::VmFile parse(std::string_view text) { return vmfile::parse(text, file_path(), {home_}); }

  // The first (only) VM of a file that must be valid.
  vmfile::VmDefinition one_vm(std::string_view text) {
    vmfile::VmFile file = parse(text);
    EXPECT_EQ(file.vms.size(), 1u);
    return file.vms.at(0);
  }

  // A VM with a local image and `body` added, for tests of one node.
  vmfile::VmDefinition vm_with(const std::string& body) {
    return one_vm("vm \"t\" {\n    image \"disk.qcow2\"\n" + body + "\n}\n");
  }

  // The problems of a file that must be invalid.
  std::vector<Problem> problems(std::string_view text) {
    try {
      parse(text);
    } catch (const vmfile::ValidationError& error) {
      EXPECT_EQ(error.code(), errc::vmfile_invalid);
      return error.problems();
    }
    ADD_FAILURE() << "expected a ValidationError for:\n" << text;
    return {};
  }

  // The problems of a VM with a local image (line 2) and `body` from line 3.
  std::vector<Problem> problems_with(const std::string& body) {
    return problems("vm \"t\" {\n    image \"disk.qcow2\"\n" + body + "\n}\n");
  }

  vmctl::test::TempDir dir_;
  fs::path home_;
  ssh::KeyPair key_;
};

std::string describe(const std::vector<Problem>& problems) {
  std::string out;
  for (const Problem& p : problems) {
    out += std::to_string(p.position.line) + ":" + std::to_string(p.position.column) + ": " + p.message +
           " [help: " + p.help + "]\n";
  }
  return out;
}

// Exactly one problem, at line:column, whose message and help contain the given parts.
void expect_one(const std::vector<Problem>& problems, int line, int column, std::string_view message,
                std::string_view help = {}) {
  ASSERT_EQ(problems.size(), 1u) << describe(problems);
  const Problem& p = problems.front();
  EXPECT_EQ(p.position, (kdl::Position{line, column})) << describe(problems);
  EXPECT_NE(p.message.find(message), std::string::npos) << describe(problems);
  EXPECT_NE(p.help.find(help), std::string::npos) << describe(problems);
}

// ---- edit distance and did-you-mean ----------------------------------------

TEST(VmFileDidYouMean, EditDistanceCountsSwapsAsOneEdit) {
  EXPECT_EQ(util::edit_distance("memory", "memory"), 0u);
  EXPECT_EQ(util::edit_distance("memroy", "memory"), 1u);
  EXPECT_EQ(util::edit_distance("vcpu", "vcpus"), 1u);
  EXPECT_EQ(util::edit_distance("", "abc"), 3u);
  EXPECT_EQ(util::edit_distance("kitten", "sitting"), 3u);
}

TEST(VmFileDidYouMean, SuggestsOnlyCloseNames) {
  constexpr std::array<std::string_view, 3> names = {"memory", "vcpus", "disk"};
  EXPECT_EQ(util::closest_name("memroy", names), "memory");
  EXPECT_EQ(util::closest_name("mem", names), std::nullopt);
  EXPECT_EQ(util::closest_name("dsk", names), "disk");
  EXPECT_EQ(util::closest_name("network", names), std::nullopt);
  EXPECT_EQ(util::did_you_mean("vcpu", names), "did you mean `vcpus`?");
  EXPECT_EQ(util::did_you_mean("zzz", names), "");
}

// ---- defaults and the top level --------------------------------------------

TEST_F(VmFile, MinimalVmGetsTheDefaults) {
  vmfile::VmFile file = parse("vm \"web\" {\n    image-url \"https://example.com/disk.qcow2\"\n}\n");
  ASSERT_EQ(file.vms.size(), 1u);
  EXPECT_EQ(file.path, file_path());
  EXPECT_EQ(file.kdl_version, 2);
  const vmfile::VmDefinition& vm = file.vms[0];
  EXPECT_EQ(vm.position, (kdl::Position{1, 1}));
  EXPECT_EQ(vm.spec.name, "web");
  EXPECT_EQ(vm.image_url, "https://example.com/disk.qcow2");
  EXPECT_EQ(vm.image_sha256, std::nullopt);
  EXPECT_EQ(vm.spec.image_path, "");
  EXPECT_EQ(vm.spec.vcpus, 1u);
  EXPECT_EQ(vm.spec.memory_mb, 1024u);
  EXPECT_EQ(vm.spec.disk_gb, std::nullopt);
  EXPECT_EQ(vm.spec.network, NetworkConfig{UserNetwork{}});
  EXPECT_EQ(vm.spec.cloud_init, std::nullopt);
  // vmctl always gives VMs SSH access, with a key pair it generates.
  EXPECT_EQ(vm.spec.ssh, SshConfig{});
  EXPECT_EQ(vm.spec.backend, std::nullopt);
  EXPECT_FALSE(vm.spec.uefi);
  EXPECT_EQ(vm.spec.accel, Accel::automatic);
  EXPECT_EQ(vm.spec.vnc, VncMode::unix_socket);
  EXPECT_EQ(vm.spec.kernel, std::nullopt);
  EXPECT_TRUE(vm.provisioners.empty());
}

TEST_F(VmFile, FindsVmsByName) {
  vmfile::VmFile file = parse("vm \"a\" { image \"disk.qcow2\"; }\nvm \"b\" { image \"disk.qcow2\"; }\n");
  ASSERT_NE(file.find("b"), nullptr);
  EXPECT_EQ(file.find("b")->position, (kdl::Position{2, 1}));
  EXPECT_EQ(file.find("c"), nullptr);
}

TEST_F(VmFile, DefaultPathIsVmFileKdlInTheFolder) {
  EXPECT_EQ(vmfile::default_path("/srv/project"), fs::path("/srv/project/VMFile.kdl"));
}

TEST_F(VmFile, EmptyFileDefinesNoVm) {
  expect_one(problems(""), 1, 1, "defines no VM", "vm \"web\"");
  expect_one(problems("// only a comment\n"), 1, 1, "defines no VM");
}

TEST_F(VmFile, UnknownTopLevelNodeIsReported) {
  expect_one(problems("vm \"a\" { image \"disk.qcow2\"; }\nvn \"b\" {}\n"), 2, 1, "unknown node `vn` in the VMFile",
             "did you mean `vm`?");
}

TEST_F(VmFile, VmLevelNodeAtTheTopSaysWhereItBelongs) {
  std::vector<Problem> found = problems("memory 2048\nvm \"a\" { image \"disk.qcow2\"; }\n");
  expect_one(found, 1, 1, "unknown node `memory` in the VMFile", "belongs inside vm \"…\" { … }");
}

// ---- vm names ----------------------------------------------------------------

TEST_F(VmFile, VmNamesMustBeUnique) {
  std::vector<Problem> found = problems(
      "vm \"web\" { image \"disk.qcow2\"; }\nvm \"db\" { image \"disk.qcow2\"; }\n"
      "vm \"web\" { image \"disk.qcow2\"; }\n");
  expect_one(found, 3, 4, "VM name \"web\" is used twice (first at 1:1)");
}

TEST_F(VmFile, VmNamesMustBeValidVmNames) {
  expect_one(problems("vm \"-web\" { image \"disk.qcow2\"; }"), 1, 4, "invalid VM name '-web'",
             "beginning with a letter or digit");
  expect_one(problems("vm \"a/b\" { image \"disk.qcow2\"; }"), 1, 4, "invalid VM name 'a/b'");
}

TEST_F(VmFile, VmNeedsAStringName) {
  expect_one(problems("vm { image \"disk.qcow2\"; }"), 1, 1, "`vm` needs a name", "vm \"web\"");
  expect_one(problems("vm 7 { image \"disk.qcow2\"; }"), 1, 4, "`vm` takes a string, not an integer");
}

TEST_F(VmFile, VmTakesOneNameAndNoProperties) {
  expect_one(problems("vm \"a\" \"b\" { image \"disk.qcow2\"; }"), 1, 8, "unexpected extra argument to `vm`");
  expect_one(problems("vm \"a\" cpus=2 { image \"disk.qcow2\"; }"), 1, 8, "unknown property `cpus` on `vm`",
             "`vm` takes no properties");
}

// ---- images --------------------------------------------------------------------

TEST_F(VmFile, LocalImageResolvesAgainstTheVmFileFolder) {
  touch("images/ubuntu.qcow2");
  EXPECT_EQ(vm_with("").spec.image_path, (project() / "disk.qcow2").string());
  vmfile::VmDefinition vm = one_vm("vm \"t\" { image \"./images/../images/ubuntu.qcow2\"; }");
  EXPECT_EQ(vm.spec.image_path, (project() / "images/ubuntu.qcow2").string());
  EXPECT_EQ(vm.image_url, std::nullopt);
}

TEST_F(VmFile, RelativePathsUseTheFolderOfTheFileNotTheWorkingDirectory) {
  touch("sub/disk.qcow2");
  vmfile::VmFile file = vmfile::parse("vm \"t\" { image \"disk.qcow2\"; }", project() / "sub/VMFile.kdl", {home_});
  EXPECT_EQ(file.vms.at(0).spec.image_path, (project() / "sub/disk.qcow2").string());
}

TEST_F(VmFile, AbsoluteImagePathIsKept) {
  vmfile::VmDefinition vm = one_vm("vm \"t\" { image \"" + (project() / "disk.qcow2").string() + "\"; }");
  EXPECT_EQ(vm.spec.image_path, (project() / "disk.qcow2").string());
}

TEST_F(VmFile, TildeExpandsToTheConfiguredHome) {
  vmfile::VmDefinition vm = one_vm("vm \"t\" { image \"~/images/debian-12-generic-amd64.qcow2\"; }");
  EXPECT_EQ(vm.spec.image_path, (home_ / "images/debian-12-generic-amd64.qcow2").string());
}

TEST_F(VmFile, TildeNeedsAConfiguredHomeTheProcessEnvironmentIsNotRead) {
  const char* saved = std::getenv("HOME");
  std::string saved_home = saved ? saved : "";
  ::setenv("HOME", home_.c_str(), 1);  // vmctl hands HOME in (LoadOptions::home); the library reads none
  try {
    vmfile::parse("vm \"t\" { image \"~/images/debian-12-generic-amd64.qcow2\"; }", file_path());
    ADD_FAILURE() << "expected a ValidationError";
  } catch (const vmfile::ValidationError& error) {
    expect_one(error.problems(), 1, 16, "$HOME is not set");
  }
  if (saved) ::setenv("HOME", saved_home.c_str(), 1);
}

TEST_F(VmFile, OtherUsersHomesAreNotExpanded) {
  expect_one(problems("vm \"t\" { image \"~alice/disk.qcow2\"; }"), 1, 16, "only ~/ is supported",
             "write the full path");
}

TEST_F(VmFile, MissingImageIsReportedAtItsValue) {
  expect_one(problems_with("    kernel \"nope/vmlinuz\""), 3, 12,
             "kernel " + (project() / "nope/vmlinuz").string() + " does not exist",
             "relative paths start at the VMFile's folder");
  expect_one(problems("vm \"t\" {\n    image \"missing.qcow2\"\n}"), 2, 11, "does not exist");
  fs::create_directories(project() / "folder");
  expect_one(problems("vm \"t\" { image \"folder\"; }"), 1, 16, "is a folder, not a file");
  expect_one(problems("vm \"t\" { image \"\"; }"), 1, 16, "empty path");
}

// Every file a VMFile names is checked when it is read, so that a typo is
// reported at its value (line:column) and not later by whatever opens it.
TEST_F(VmFile, MissingPrivateKeyIsReportedAtItsValue) {
  expect_one(problems_with("    ssh {\n        private-key \"~/.ssh/id_missing\"\n    }"), 4, 21,
             "ssh private key " + (home_ / ".ssh/id_missing").string() + " does not exist",
             "relative paths start at the VMFile's folder");
}

TEST_F(VmFile, MissingFileProvisionSourceIsReportedAtItsValue) {
  expect_one(problems_with("    provision \"file\" {\n        source \"config/missing.conf\"\n"
                           "        destination \"/etc/app.conf\"\n    }"),
             4, 16, "source " + (project() / "config/missing.conf").string() + " does not exist",
             "relative paths start at the VMFile's folder");
}

TEST_F(VmFile, EmptyFileProvisionDestination) {
  touch("a.txt");
  expect_one(problems_with("    provision \"file\" {\n        source \"a.txt\"\n        destination \"\"\n    }"), 5, 21,
             "empty destination", "for example: destination \"/etc/app/app.conf\"");
}

TEST_F(VmFile, MissingInitrdIsReportedAtItsValue) {
  touch("boot/vmlinuz");  // so that the only problem is the initrd itself
  expect_one(problems_with("    kernel \"boot/vmlinuz\"\n    initrd \"boot/missing.img\""), 4, 12,
             "initrd " + (project() / "boot/missing.img").string() + " does not exist");
}

// image-url without a scheme is a local image, so it must exist like image does.
TEST_F(VmFile, MissingLocalImageUrlIsReportedAtItsValue) {
  expect_one(problems("vm \"t\" {\n    image-url \"images/missing.qcow2\"\n}"), 2, 15,
             "image " + (project() / "images/missing.qcow2").string() + " does not exist");
}

// "\u{0}" is a valid KDL escape, but no file path can contain NUL (and the
// name would be cut short at it by every C API that opens it).
TEST_F(VmFile, PathWithNulIsRejected) {
  touch("disk");  // "disk\0.qcow2" must not be taken for it
  expect_one(problems(R"(vm "t" { image "disk\u{0}.qcow2"; })"), 1, 16, "path contains a NUL character");
  expect_one(problems_with("    kernel \"\\u{0}\""), 3, 12, "path contains a NUL character");
  expect_one(problems("vm \"t\" {\n    image-url \"disk\\u{0}\"\n}"), 2, 15, "path contains a NUL character");
  touch("a.txt");
  expect_one(problems_with("    provision \"file\" {\n        source \"a.txt\\u{0}\"\n        destination \"/tmp/a\"\n    }"),
             4, 16, "path contains a NUL character");
}

TEST_F(VmFile, ImageUrlTakesHttpHttpsAndOci) {
  EXPECT_EQ(one_vm("vm \"t\" { image-url \"http://example.com/a.img\"; }").image_url, "http://example.com/a.img");
  EXPECT_EQ(one_vm("vm \"t\" { image-url \"oci://ghcr.io/myorg/ubuntu-dev:22.04\"; }").image_url,
            "oci://ghcr.io/myorg/ubuntu-dev:22.04");
}

TEST_F(VmFile, ImageUrlWithAPlainPathIsALocalImage) {
  EXPECT_EQ(one_vm("vm \"t\" { image-url \"disk.qcow2\"; }").image_url, (project() / "disk.qcow2").string());
}

// A bare name with no file of that name beside the VMFile is an image name
// (vmctl image pull --name), left for the image cache to look up.
TEST_F(VmFile, ImageUrlThatIsNoFileButANameIsAnImageName) {
  EXPECT_EQ(one_vm("vm \"t\" { image-url \"debian-12.1_cloud\"; }").image_url, "debian-12.1_cloud");
  // With a folder it is a path, and must exist.
  expect_one(problems("vm \"t\" {\n    image-url \"images/debian\"\n}"), 2, 15, "does not exist");
  // Not a name: it starts with a dot.
  expect_one(problems("vm \"t\" {\n    image-url \".hidden\"\n}"), 2, 15, "does not exist");
}

TEST_F(VmFile, ImageUrlRejectsOtherSchemesAndBadOciReferences) {
  expect_one(problems("vm \"t\" { image-url \"ftp://example.com/a.img\"; }"), 1, 20, "unsupported image URL",
             "http://, https:// or oci://");
  std::vector<Problem> found = problems("vm \"t\" { image-url \"oci://\"; }");
  ASSERT_EQ(found.size(), 1u) << describe(found);
  EXPECT_EQ(found[0].position, (kdl::Position{1, 20}));
}

TEST_F(VmFile, ImageSha256IsLowerCased) {
  std::string upper = "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF";
  vmfile::VmDefinition vm = one_vm("vm \"t\" { image-url \"https://e.com/a.img\"; image-sha256 \"" + upper + "\"; }");
  EXPECT_EQ(vm.image_sha256, std::string(kSha));
}

TEST_F(VmFile, ImageSha256NeedsImageUrl) {
  expect_one(problems_with("    image-sha256 \"" + std::string(kSha) + "\""), 3, 5, "image-sha256 needs image-url",
             "name it with image-url \"<path>\"");
  vmfile::VmDefinition vm =
      one_vm("vm \"t\" {\n    image-url \"disk.qcow2\"\n    image-sha256 \"" + std::string(kSha) + "\"\n}");
  EXPECT_EQ(vm.image_url, (project() / "disk.qcow2").string());
  EXPECT_EQ(vm.image_sha256, std::string(kSha));
}

TEST_F(VmFile, ImageSha256MustBe64HexDigits) {
  const std::string url = "vm \"t\" {\n    image-url \"https://e.com/a.img\"\n";
  expect_one(problems(url + "    image-sha256 \"abc\"\n}"), 3, 18, "is not 64 hex digits", "sha256sum");
  expect_one(problems(url + "    image-sha256 \"sha256:" + std::string(kSha) + "\"\n}"), 3, 18, "is not 64 hex digits",
             "leave out the sha256: prefix");
}

TEST_F(VmFile, ExactlyOneImageSource) {
  expect_one(problems("vm \"t\" {\n    vcpus 2\n}"), 1, 1, "vm \"t\" has no image", "image-url");
  expect_one(problems_with("    image-url \"https://e.com/a.img\""), 3, 5, "either image or image-url, not both");
  expect_one(problems_with("    image \"disk.qcow2\""), 3, 5,
             "`image` given more than once in vm \"t\" (first at 2:5)");
}

// ---- resources ---------------------------------------------------------------------

TEST_F(VmFile, ParsesVcpus) { EXPECT_EQ(vm_with("    vcpus 4").spec.vcpus, 4u); }
TEST_F(VmFile, ParsesMemory) { EXPECT_EQ(vm_with("    memory 4096").spec.memory_mb, 4096u); }
TEST_F(VmFile, ParsesDisk) { EXPECT_EQ(vm_with("    disk 40").spec.disk_gb, 40u); }

TEST_F(VmFile, IntegersTakeEveryKdlSpelling) {
  EXPECT_EQ(vm_with("    memory 0x800").spec.memory_mb, 2048u);
  EXPECT_EQ(vm_with("    memory 2_048").spec.memory_mb, 2048u);
}

TEST_F(VmFile, VcpusMustBePositiveAndBounded) {
  expect_one(problems_with("    vcpus 0"), 3, 11, "`vcpus` must be between 1 and 512, not 0", "too small");
  expect_one(problems_with("    vcpus 513"), 3, 11, "not 513", "too large");
  expect_one(problems_with("    vcpus -1"), 3, 11, "not -1");
}

TEST_F(VmFile, MemoryMustBeInRange) {
  expect_one(problems_with("    memory -512"), 3, 12, "`memory` must be between 16 and 16777216 MB, not -512");
  // Would wrap an int64 (and a uint64): reported as written, never wrapped.
  expect_one(problems_with("    memory 99999999999999999999999"), 3, 12, "not 99999999999999999999999", "too large");
  expect_one(problems_with("    memory 18446744073709551617"), 3, 12, "not 18446744073709551617");
}

TEST_F(VmFile, DiskMustBeInRange) {
  expect_one(problems_with("    disk 0"), 3, 10, "`disk` must be between 1 and 65536 GB, not 0");
  expect_one(problems_with("    disk 65537"), 3, 10, "not 65537");
}

TEST_F(VmFile, ResourcesMustBeIntegers) {
  expect_one(problems_with("    vcpus \"2\""), 3, 11, "`vcpus` takes an integer, not a string", "without quotes");
  expect_one(problems_with("    memory 2048.0"), 3, 12, "`memory` takes an integer, not a decimal number");
  expect_one(problems_with("    disk #true"), 3, 10, "`disk` takes an integer, not a boolean");
  expect_one(problems_with("    disk #null"), 3, 10, "`disk` takes an integer, not #null");
}

TEST_F(VmFile, LeafNodesTakeExactlyOneValue) {
  expect_one(problems_with("    vcpus"), 3, 5, "`vcpus` needs an integer", "vcpus 2");
  expect_one(problems_with("    vcpus 2 4"), 3, 13, "unexpected extra argument to `vcpus`", "takes one value");
  expect_one(problems_with("    vcpus 2 max=4"), 3, 13, "unknown property `max` on `vcpus`");
  expect_one(problems_with("    vcpus 2 {\n        cores 2\n    }"), 4, 9, "`vcpus` takes no children block");
}

TEST_F(VmFile, DuplicateSingleValuedNodesAreErrors) {
  expect_one(problems_with("    vcpus 2\n    vcpus 4"), 4, 5, "`vcpus` given more than once in vm \"t\" (first at 3:5)",
             "keep one");
}

TEST_F(VmFile, TypeAnnotationsAreReported) {
  expect_one(problems_with("    vcpus (u8)2"), 3, 11, "type annotation (u8) has no meaning");
  expect_one(problems_with("    (int)vcpus 2"), 3, 5, "type annotation (int) has no meaning");
}

TEST_F(VmFile, RepeatedPropertiesAreReported) {
  expect_one(problems_with("    network \"tap\" bridge=\"a\" bridge=\"br1\""), 3, 19,
             "property `bridge` given more than once");
}

// ---- unknown nodes ---------------------------------------------------------------------

TEST_F(VmFile, MisspeltNodeGetsADidYouMean) {
  expect_one(problems_with("    memroy 2048"), 3, 5, "unknown node `memroy` in vm \"t\"", "did you mean `memory`?");
  expect_one(problems_with("    vcpu 2"), 3, 5, "unknown node `vcpu`", "did you mean `vcpus`?");
  expect_one(problems_with("    imageurl \"x\""), 3, 5, "unknown node `imageurl`", "did you mean `image-url`?");
}

TEST_F(VmFile, UnknownNodeWithoutACloseNameListsTheValidOnes) {
  expect_one(problems_with("    colour \"red\""), 3, 5, "unknown node `colour`", "valid here: image, image-url");
}

TEST_F(VmFile, NodeOfAnInnerBlockSaysWhereItBelongs) {
  expect_one(problems_with("    hostname \"web\""), 3, 5, "unknown node `hostname`", "belongs inside cloud-init { … }");
  expect_one(problems_with("    user \"ubuntu\""), 3, 5, "unknown node `user`", "belongs inside ssh { … }");
  expect_one(problems_with("    inline \"ls\""), 3, 5, "unknown node `inline`", "provision \"shell\"");
  expect_one(problems_with("    cloud-init {\n        private-key \"x\"\n    }"), 4, 9,
             "unknown node `private-key` in cloud-init", "belongs inside ssh { … }");
}

// ---- network ---------------------------------------------------------------------------

TEST_F(VmFile, NetworkModes) {
  EXPECT_EQ(vm_with("    network \"user\"").spec.network, NetworkConfig{UserNetwork{}});
  EXPECT_EQ(vm_with("    network \"none\"").spec.network, NetworkConfig{NoNetwork{}});
}

TEST_F(VmFile, TapBridgeAsPropertyOrChild) {
  EXPECT_EQ(vm_with("    network \"tap\" bridge=\"br1\"").spec.network, NetworkConfig{TapNetwork{"br1"}});
  EXPECT_EQ(vm_with("    network \"tap\" {\n        bridge \"br2\"\n    }").spec.network,
            NetworkConfig{TapNetwork{"br2"}});
}

TEST_F(VmFile, TapBridgeDefaultsToBr0) {
  EXPECT_EQ(vm_with("    network \"tap\"").spec.network, NetworkConfig{TapNetwork{"br0"}});
}

TEST_F(VmFile, VnicNameAsPropertyOrChild) {
  EXPECT_EQ(vm_with("    network \"vnic\" name=\"vnic0\"").spec.network, NetworkConfig{VnicNetwork{"vnic0"}});
  EXPECT_EQ(vm_with("    network \"vnic\" {\n        name \"vnic1\"\n    }").spec.network,
            NetworkConfig{VnicNetwork{"vnic1"}});
}

TEST_F(VmFile, VnicNeedsAName) {
  expect_one(problems_with("    network \"vnic\""), 3, 5, "network \"vnic\" needs the VNIC's name", "name=\"vnic0\"");
}

TEST_F(VmFile, BridgeGivenTwiceIsAnError) {
  expect_one(problems_with("    network \"tap\" bridge=\"br0\" {\n        bridge \"br1\"\n    }"), 4, 9,
             "`bridge` given both as a property and as a child");
}

TEST_F(VmFile, UnknownNetworkModeGetsADidYouMean) {
  expect_one(problems_with("    network \"tpa\""), 3, 13, "unknown network mode \"tpa\"", "did you mean `tap`?");
  expect_one(problems_with("    network \"bridged\""), 3, 13, "unknown network mode",
             "use \"user\", \"tap\", \"vnic\" or \"none\"");
  expect_one(problems_with("    network"), 3, 5, "`network` needs a mode");
}

TEST_F(VmFile, NetworkSettingsMustFitTheMode) {
  expect_one(problems_with("    network \"user\" bridge=\"br0\""), 3, 20, "network \"user\" takes no property `bridge`",
             "bridge is a setting of network \"tap\"");
  expect_one(problems_with("    network \"none\" {\n        name \"v\"\n    }"), 4, 9,
             "network \"none\" takes no `name`", "network \"vnic\"");
  expect_one(problems_with("    network \"tap\" brige=\"br0\""), 3, 19, "unknown property `brige` on `network`",
             "did you mean `bridge`?");
  expect_one(problems_with("    network \"tap\" name=\"br0\""), 3, 19, "unknown property `name` on `network`",
             "`network` takes: bridge");
  expect_one(problems_with("    network \"tap\" {\n        brigde \"br0\"\n    }"), 4, 9,
             "unknown node `brigde` in network", "did you mean `bridge`?");
}

TEST_F(VmFile, InterfaceNamesAreChecked) {
  expect_one(problems_with("    network \"tap\" bridge=\"br0,x\""), 3, 26, "invalid bridge name 'br0,x'");
  expect_one(problems_with("    network \"vnic\" {\n        name \"a-very-long-vnic-name\"\n    }"), 4, 14,
             "invalid VNIC name");
  expect_one(problems_with("    network \"tap\" bridge=1"), 3, 26, "`bridge` takes a string, not an integer");
}

TEST_F(VmFile, TapAndVnicTakeAStaticAddress) {
  EXPECT_EQ(vm_with("    network \"tap\" {\n        ip \"192.168.77.200/24\"\n        gateway \"192.168.77.1\"\n"
                    "        dns \"192.168.77.1\"\n        dns \"fd00::53\"\n    }")
                .spec.network,
            NetworkConfig(TapNetwork{"br0", StaticAddress{"192.168.77.200/24", "192.168.77.1",
                                                          {"192.168.77.1", "fd00::53"}}}));
  EXPECT_EQ(vm_with("    network \"vnic\" name=\"vnic0\" {\n        ip \"fd00::5/64\"\n    }").spec.network,
            NetworkConfig(VnicNetwork{"vnic0", StaticAddress{"fd00::5/64", "", {}}}));
  EXPECT_EQ(vm_with("    network \"tap\" {\n        bridge \"br1\"\n        ip \"10.0.0.5/8\"\n    }").spec.network,
            NetworkConfig(TapNetwork{"br1", StaticAddress{"10.0.0.5/8", "", {}}}));
}

TEST_F(VmFile, AStaticAddressIsCheckedWhereItIsGiven) {
  expect_one(problems_with("    network \"tap\" {\n        ip \"192.168.77.200\"\n    }"), 4, 12,
             "the static address '192.168.77.200' is not ADDRESS/PREFIX", "prefix length");
  expect_one(problems_with("    network \"tap\" {\n        ip \"10.0.0.5/8\"\n        gateway \"10.0.0.1/8\"\n    }"),
             5, 17, "the gateway '10.0.0.1/8' is not an IPv4 or IPv6 address");
  expect_one(problems_with("    network \"tap\" {\n        ip \"10.0.0.5/8\"\n        gateway \"fd00::1\"\n    }"), 5,
             17, "not of the same IP version");
  expect_one(problems_with("    network \"vnic\" name=\"v0\" {\n        ip \"10.0.0.5/8\"\n        dns \"ns1\"\n    }"),
             5, 13, "the name server 'ns1' is not an IPv4 or IPv6 address");
  expect_one(problems_with("    network \"tap\" {\n        ip \"10.0.0.5/8\"\n        dns \"10.0.0.1\"\n"
                           "        dns \"10.0.0.2\"\n        dns \"10.0.0.3\"\n        dns \"10.0.0.4\"\n    }"),
             8, 13, "4 name servers given");
  expect_one(problems_with("    network \"tap\" {\n        ip 24\n    }"), 4, 12, "`ip` takes a string");
  expect_one(problems_with("    network \"tap\" {\n        ip \"10.0.0.5/8\"\n        ip \"10.0.0.6/8\"\n    }"), 5, 9,
             "`ip`");
}

TEST_F(VmFile, GatewayAndDnsNeedAnIp) {
  expect_one(problems_with("    network \"tap\" {\n        gateway \"10.0.0.1\"\n    }"), 4, 17,
             "gateway and dns are part of a static address, which needs `ip`", "ip \"ADDR/PREFIX\"");
  expect_one(problems_with("    network \"vnic\" name=\"v0\" {\n        dns \"10.0.0.1\"\n    }"), 4, 13,
             "which needs `ip`");
}

TEST_F(VmFile, ForwardsPublishGuestPorts) {
  vmfile::VmDefinition vm = vm_with(
      "    forward host=8080 guest=80\n"
      "    forward host=5353 guest=53 protocol=\"udp\" address=\"0.0.0.0\"");
  EXPECT_EQ(vm.spec.port_forwards,
            (std::vector<PortForward>{PortForward{"127.0.0.1", 8080, 80, PortProtocol::tcp},
                                      PortForward{"0.0.0.0", 5353, 53, PortProtocol::udp}}));
  EXPECT_TRUE(vm_with("").spec.port_forwards.empty());
}

TEST_F(VmFile, ForwardMistakesAreReportedAtTheForward) {
  expect_one(problems_with("    forward host=8080"), 3, 5, "forward needs guest=PORT", "forward host=8080 guest=80");
  expect_one(problems_with("    forward host=8080 guest=70000"), 3, 29, "`guest` must be between 1 and 65535, not 70000");
  expect_one(problems_with("    forward host=8080 guest=80 protocol=\"sctp\""), 3, 41, "unknown protocol \"sctp\"",
             "\"udp\"");
  expect_one(problems_with("    forward host=8080 guest=80 port=1"), 3, 32, "unknown property `port` on `forward`");
  expect_one(problems_with("    forward host=8080 guest=80\n    forward host=8080 guest=81 address=\"0.0.0.0\""), 4, 5,
             "use the same host port");
  expect_one(problems_with("    forward host=8080 guest=80 address=\"::1\""), 3, 5, "not an IPv4 address");
  expect_one(problems_with("    network \"tap\"\n    forward host=8080 guest=80"), 4, 5, "TAP network",
             "user networking");
}

TEST_F(VmFile, UserAndNoneNetworkingTakeNoStaticAddress) {
  expect_one(problems_with("    network \"user\" {\n        ip \"10.0.0.5/8\"\n    }"), 4, 9,
             "network \"user\" takes no `ip`", "QEMU's own private address");
  expect_one(problems_with("    network \"none\" {\n        dns \"10.0.0.1\"\n    }"), 4, 9,
             "network \"none\" takes no `dns`", "none has no NIC");
}

// ---- cloud-init and ssh --------------------------------------------------------------------

TEST_F(VmFile, CloudInitHostname) {
  vmfile::VmDefinition vm = vm_with("    cloud-init {\n        hostname \"web-1.example\"\n    }");
  ASSERT_TRUE(vm.spec.cloud_init);
  EXPECT_EQ(vm.spec.cloud_init->hostname, "web-1.example");
  EXPECT_EQ(vm.spec.cloud_init->user_data, "");
  EXPECT_EQ(vm.spec.ssh, SshConfig{});
}

TEST_F(VmFile, CloudInitHostnameIsChecked) {
  expect_one(problems_with("    cloud-init {\n        hostname \"web_1\"\n    }"), 4, 18, "invalid hostname 'web_1'");
  expect_one(problems_with("    cloud-init {\n        hostname \"-web\"\n    }"), 4, 18, "invalid hostname");
}

TEST_F(VmFile, CloudInitSshKeyGivesThePublicKeyAndFindsThePrivateKeyBesideIt) {
  vmfile::VmDefinition vm = vm_with("    cloud-init {\n        ssh-key \"~/.ssh/id_ed25519.pub\"\n    }");
  ASSERT_TRUE(vm.spec.ssh);
  EXPECT_EQ(vm.spec.ssh->public_key, key_.public_key.line());
  EXPECT_EQ(vm.spec.ssh->private_key_path, (home_ / ".ssh/id_ed25519").string());
  EXPECT_EQ(vm.spec.ssh->user, "vm");
}

TEST_F(VmFile, CloudInitSshKeyWithoutAPrivateKeyBesideIt) {
  ssh::KeyPair other = ssh::generate_ed25519("other");
  touch("keys/only.pub", other.public_key.line() + "\n");
  vmfile::VmDefinition vm = vm_with("    cloud-init {\n        ssh-key \"keys/only.pub\"\n    }");
  EXPECT_EQ(vm.spec.ssh->public_key, other.public_key.line());
  EXPECT_EQ(vm.spec.ssh->private_key_path, "");
}

TEST_F(VmFile, CloudInitSshKeyMustBeAPublicKey) {
  touch("not-a-key.pub", "hello\n");
  std::vector<Problem> found = problems_with("    cloud-init {\n        ssh-key \"not-a-key.pub\"\n    }");
  ASSERT_EQ(found.size(), 1u) << describe(found);
  EXPECT_EQ(found[0].position, (kdl::Position{4, 17}));
  EXPECT_NE(found[0].help.find("public key"), std::string::npos);
  expect_one(problems_with("    cloud-init {\n        ssh-key \"~/.ssh/missing.pub\"\n    }"), 4, 17,
             "ssh public key " + (home_ / ".ssh/missing.pub").string() + " does not exist");
}

TEST_F(VmFile, CloudInitUserDataIsTheFilesBytes) {
  // Binary (gzip, with NULs) is passed on as it is; text must hold no NUL.
  std::string bytes("\x1f\x8b\x08\0#cloud-config\npackages: [nginx]\n\0 binary too", 47);
  touch("cloud-config.yaml", bytes);
  vmfile::VmDefinition vm = vm_with("    cloud-init {\n        user-data \"cloud-config.yaml\"\n    }");
  ASSERT_TRUE(vm.spec.cloud_init);
  EXPECT_EQ(vm.spec.cloud_init->user_data, bytes);
  touch("nul.yaml", std::string("#cloud-config\npackages: [nginx]\n\0", 33));
  expect_one(problems_with("    cloud-init {\n        user-data \"nul.yaml\"\n    }"), 4, 19,
             "the user-data holds a NUL byte at offset 32");
  expect_one(problems_with("    cloud-init {\n        user-data \"nope.yaml\"\n    }"), 4, 19,
             "user-data file " + (project() / "nope.yaml").string() + " does not exist");
}

// user-data is read with the bounded reader: a FIFO comes back at once as
// a problem at its node (a hang would time the test out), a huge file too.
TEST_F(VmFile, CloudInitUserDataMustBeASmallRegularFile) {
  ASSERT_EQ(::mkfifo((project() / "fifo.yaml").c_str(), 0600), 0);
  expect_one(problems_with("    cloud-init {\n        user-data \"fifo.yaml\"\n    }"), 4, 19,
             "user-data file " + (project() / "fifo.yaml").string() + " is a FIFO");
  touch("huge.yaml", "");
  fs::resize_file(project() / "huge.yaml", 1ull << 40);
  expect_one(problems_with("    cloud-init {\n        user-data \"huge.yaml\"\n    }"), 4, 19,
             "user-data file " + (project() / "huge.yaml").string() + " is larger than 4 MiB");
}

TEST_F(VmFile, CloudInitChildrenAreSingleAndKnown) {
  expect_one(problems_with("    cloud-init {\n        hostname \"a\"\n        hostname \"b\"\n    }"), 5, 9,
             "`hostname` given more than once in cloud-init");
  expect_one(problems_with("    cloud-init {\n        hostnme \"a\"\n    }"), 4, 9,
             "unknown node `hostnme` in cloud-init", "did you mean `hostname`?");
  expect_one(problems_with("    cloud-init \"x\""), 3, 16, "unexpected extra argument to `cloud-init`");
}

TEST_F(VmFile, SshUserAndPrivateKey) {
  vmfile::VmDefinition vm = vm_with(
      "    cloud-init {\n        ssh-key \"~/.ssh/id_ed25519.pub\"\n    }\n"
      "    ssh {\n        user \"debian\"\n        private-key \"~/.ssh/id_ed25519\"\n    }");
  EXPECT_EQ(vm.spec.ssh->user, "debian");
  EXPECT_EQ(vm.spec.ssh->public_key, key_.public_key.line());
  EXPECT_EQ(vm.spec.ssh->private_key_path, (home_ / ".ssh/id_ed25519").string());
}

TEST_F(VmFile, SshPrivateKeyAloneTakesThePublicKeyBesideIt) {
  vmfile::VmDefinition vm = vm_with("    ssh {\n        private-key \"~/.ssh/id_ed25519\"\n    }");
  EXPECT_EQ(vm.spec.ssh->public_key, key_.public_key.line());
  EXPECT_EQ(vm.spec.ssh->private_key_path, (home_ / ".ssh/id_ed25519").string());
}

TEST_F(VmFile, SshPrivateKeyAloneNeedsItsPublicKey) {
  touch("keys/lonely", "private");
  expect_one(problems_with("    ssh {\n        private-key \"keys/lonely\"\n    }"), 4, 21,
             "private-key needs its public key", "cloud-init { ssh-key");
}

TEST_F(VmFile, SshUserOnlyKeepsGeneratedKeys) {
  vmfile::VmDefinition vm = vm_with("    ssh {\n        user \"ubuntu\"\n    }");
  SshConfig expected;
  expected.user = "ubuntu";
  EXPECT_EQ(vm.spec.ssh, expected);
}

TEST_F(VmFile, SshUserIsChecked) {
  expect_one(problems_with("    ssh {\n        user \"Root User\"\n    }"), 4, 14, "Root User");
  expect_one(problems_with("    ssh {\n        usr \"a\"\n    }"), 4, 9, "unknown node `usr` in ssh",
             "did you mean `user`?");
}

// ---- provisioners -------------------------------------------------------------------------------

TEST_F(VmFile, ProvisionersKeepTheirOrder) {
  touch("scripts/setup.sh", "#!/bin/sh\n");
  touch("config/app.conf");
  vmfile::VmDefinition vm = vm_with(
      "    provision \"shell\" {\n        inline \"sudo apt-get update\"\n    }\n"
      "    provision \"file\" {\n        source \"config/app.conf\"\n        destination \"/etc/app/app.conf\"\n    }\n"
      "    provision \"shell\" {\n        script \"scripts/setup.sh\"\n    }");
  ASSERT_EQ(vm.provisioners.size(), 3u);
  EXPECT_EQ(std::get<provision::ShellInline>(vm.provisioners[0]).command, "sudo apt-get update");
  const auto& copy = std::get<provision::FileCopy>(vm.provisioners[1]);
  EXPECT_EQ(copy.source, project() / "config/app.conf");
  EXPECT_EQ(copy.destination, "/etc/app/app.conf");
  EXPECT_EQ(std::get<provision::ShellScript>(vm.provisioners[2]).script, project() / "scripts/setup.sh");
}

TEST_F(VmFile, ShellProvisionNeedsExactlyOneOfInlineAndScript) {
  touch("s.sh");
  expect_one(problems_with("    provision \"shell\" {\n        inline \"ls\"\n        script \"s.sh\"\n    }"), 5, 9,
             "either inline or script, not both");
  expect_one(problems_with("    provision \"shell\" {\n    }"), 3, 5, "provision \"shell\" needs inline or script");
  expect_one(problems_with("    provision \"shell\" {\n        inline \"\"\n    }"), 4, 16, "empty command");
  expect_one(problems_with("    provision \"shell\" {\n        script \"missing.sh\"\n    }"), 4, 16,
             "script " + (project() / "missing.sh").string() + " does not exist");
}

TEST_F(VmFile, FileProvisionNeedsSourceAndDestination) {
  touch("a.txt");
  std::vector<Problem> found = problems_with("    provision \"file\" {\n    }");
  ASSERT_EQ(found.size(), 2u) << describe(found);
  EXPECT_NE(found[0].message.find("needs a source"), std::string::npos);
  EXPECT_NE(found[1].message.find("needs a destination"), std::string::npos);
  expect_one(problems_with("    provision \"file\" {\n        source \"a.txt\"\n        inline \"ls\"\n"
                           "        destination \"/tmp/a\"\n    }"),
             5, 9, "unknown node `inline` in provision \"file\"", "belongs inside provision \"shell\"");
}

TEST_F(VmFile, UnknownProvisionTypeGetsADidYouMean) {
  expect_one(problems_with("    provision \"shel\" {\n        inline \"ls\"\n    }"), 3, 15,
             "unknown provision type \"shel\"", "did you mean `shell`?");
}

// The first vmctl took a provision without a type as a shell step; so does this one.
TEST_F(VmFile, AProvisionWithoutATypeIsAShellStep) {
  touch("setup.sh", "#!/bin/sh\n");
  vmfile::VmDefinition vm = vm_with("    provision {\n        inline \"uname -a\"\n    }\n"
                                    "    provision {\n        script \"setup.sh\"\n    }");
  ASSERT_EQ(vm.provisioners.size(), 2u);
  EXPECT_EQ(std::get<provision::ShellInline>(vm.provisioners[0]).command, "uname -a");
  EXPECT_EQ(std::get<provision::ShellScript>(vm.provisioners[1]).script, project() / "setup.sh");
  // Checked as a shell step: a file step's nodes are not taken for one.
  expect_one(problems_with("    provision {\n    }"), 3, 5, "provision \"shell\" needs inline or script");
  expect_one(problems_with("    provision {\n        source \"setup.sh\"\n        inline \"ls\"\n    }"), 4, 9,
             "unknown node `source` in provision \"shell\"", "belongs inside provision \"file\"");
  // A type given as something else than a string is still an error.
  expect_one(problems_with("    provision 3 {\n        inline \"ls\"\n    }"), 3, 15, "a string", "double quotes");
}

// ---- boot options ----------------------------------------------------------------------------------

TEST_F(VmFile, UefiAccelAndBackend) {
  vmfile::VmDefinition vm = vm_with("    uefi #true\n    accel \"kvm\"\n    backend \"propolis\"");
  EXPECT_TRUE(vm.spec.uefi);
  EXPECT_EQ(vm.spec.accel, Accel::kvm);
  EXPECT_EQ(vm.spec.backend, std::string("propolis"));
  EXPECT_EQ(vm_with("    accel \"auto\"\n    backend \"noop\"").spec.backend, std::string("noop"));
  EXPECT_EQ(vm_with("    accel \"tcg\"").spec.accel, Accel::tcg);
  EXPECT_FALSE(vm_with("    uefi #false").spec.uefi);
}

TEST_F(VmFile, VncIsUnixOrTcp) {
  EXPECT_EQ(vm_with("    vnc \"tcp\"").spec.vnc, VncMode::tcp);
  EXPECT_EQ(vm_with("    vnc \"unix\"").spec.vnc, VncMode::unix_socket);
  expect_one(problems_with("    vnc \"tpc\""), 3, 9, "unknown vnc \"tpc\"", "did you mean `tcp`?");
}

TEST_F(VmFile, UefiTakesABoolean) {
  expect_one(problems_with("    uefi \"yes\""), 3, 10, "`uefi` takes a boolean, not a string", "#true or #false");
  expect_one(problems_with("    uefi"), 3, 5, "`uefi` needs #true or #false");
}

TEST_F(VmFile, AccelAndBackendGetADidYouMean) {
  expect_one(problems_with("    accel \"kmv\""), 3, 11, "unknown accel \"kmv\"", "did you mean `kvm`?");
  expect_one(problems_with("    backend \"qemo\""), 3, 13, "unknown backend \"qemo\"", "did you mean `qemu`?");
  expect_one(problems_with("    backend \"xen\""), 3, 13, "unknown backend",
             "use one of \"noop\", \"qemu\", \"propolis\"");
}

TEST_F(VmFile, DirectKernelBoot) {
  touch("boot/vmlinuz");
  touch("boot/initrd.img");
  vmfile::VmDefinition vm =
      vm_with("    kernel \"boot/vmlinuz\"\n    initrd \"boot/initrd.img\"\n    cmdline \"console=ttyS0 panic=-1\"");
  EXPECT_EQ(vm.spec.kernel, (project() / "boot/vmlinuz").string());
  EXPECT_EQ(vm.spec.initrd, (project() / "boot/initrd.img").string());
  EXPECT_EQ(vm.spec.cmdline, "console=ttyS0 panic=-1");
}

TEST_F(VmFile, InitrdAndCmdlineNeedKernel) {
  touch("boot/initrd.img");
  std::vector<Problem> found = problems_with("    initrd \"boot/initrd.img\"\n    cmdline \"quiet\"");
  ASSERT_EQ(found.size(), 2u) << describe(found);
  EXPECT_EQ(found[0].position, (kdl::Position{3, 5}));
  EXPECT_EQ(found[1].position, (kdl::Position{4, 5}));
  EXPECT_NE(found[0].message.find("need kernel"), std::string::npos);
}

// ---- many problems at once ------------------------------------------------------------------------

TEST_F(VmFile, ReportsEveryProblemInFileOrder) {
  const std::string text =
      "vm \"web\" {\n"                 // 1
      "    memroy 2048\n"              // 2: unknown node
      "    vcpus 0\n"                  // 3: out of range
      "    network \"tpa\"\n"          // 4: unknown mode
      "}\n"                            // 5 (and: no image, at 1:1)
      "vm \"web\" {\n"                 // 6: duplicate name
      "    image \"missing.qcow2\"\n"  // 7: missing file
      "    uefi \"yes\"\n"             // 8: wrong type
      "}\n";
  std::vector<Problem> found = problems(text);
  std::vector<kdl::Position> at;
  for (const Problem& p : found) at.push_back(p.position);
  EXPECT_EQ(at, (std::vector<kdl::Position>{{1, 1}, {2, 5}, {3, 11}, {4, 13}, {6, 4}, {7, 11}, {8, 10}}))
      << describe(found);
  EXPECT_NE(found[1].help.find("did you mean `memory`?"), std::string::npos);
}

TEST_F(VmFile, ValidationErrorMessageNamesTheFirstProblemAndCountsTheRest) {
  try {
    parse("vm \"t\" {\n    vcpus 0\n    memroy 1\n}\n");
    FAIL() << "expected a ValidationError";
  } catch (const vmfile::ValidationError& error) {
    EXPECT_EQ(error.code(), errc::vmfile_invalid);
    EXPECT_EQ(error.file(), file_path());
    EXPECT_EQ(error.problems().size(), 3u);
    EXPECT_EQ(error.message(), file_path().string() + ":1:1: vm \"t\" has no image (and 2 more)");
    EXPECT_EQ(error.help(), error.problems().front().help);
  }
}

TEST_F(VmFile, SyntaxErrorsAreParseErrors) {
  try {
    parse("vm \"t\" {\n    image \"disk.qcow2\n}\n");
    FAIL() << "expected a ParseError";
  } catch (const kdl::ParseError& error) {
    EXPECT_EQ(error.code(), errc::vmfile_syntax);
    EXPECT_EQ(error.source_name(), file_path().string());
  }
}

// ---- load -----------------------------------------------------------------------------------------------

TEST_F(VmFile, LoadReadsTheFile) {
  touch("VMFile.kdl", "vm \"t\" {\n    image \"disk.qcow2\"\n}\n");
  vmfile::VmFile file = vmfile::load(file_path(), {home_});
  EXPECT_EQ(file.path, file_path());
  EXPECT_EQ(file.vms.at(0).spec.image_path, (project() / "disk.qcow2").string());
}

TEST_F(VmFile, LoadOfAMissingFileIsNotFound) {
  try {
    vmfile::load(project() / "nope.kdl", {home_});
    FAIL() << "expected an Error";
  } catch (const vmfile::ValidationError&) {
    FAIL() << "not a validation error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), errc::vmfile_not_found);
  }
  try {
    vmfile::load(project(), {home_});
    FAIL() << "expected an Error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), errc::vmfile_not_found);
  }
}

// ---- KDL 1 ---------------------------------------------------------------------------------------------------

TEST_F(VmFile, Kdl1SyntaxWorks) {
  touch("setup.sh");
  vmfile::VmFile file = parse(
      "vm \"old\" {\n"
      "    image r\"disk.qcow2\"\n"
      "    vcpus 2\n"
      "    uefi true\n"
      "    network \"tap\" bridge=\"br5\"\n"
      "    provision \"shell\" {\n"
      "        script r#\"setup.sh\"#\n"
      "    }\n"
      "}\n");
  EXPECT_EQ(file.kdl_version, 1);
  const vmfile::VmDefinition& vm = file.vms.at(0);
  EXPECT_EQ(vm.spec.image_path, (project() / "disk.qcow2").string());
  EXPECT_TRUE(vm.spec.uefi);
  EXPECT_EQ(vm.spec.network, NetworkConfig{TapNetwork{"br5"}});
  EXPECT_EQ(std::get<provision::ShellScript>(vm.provisioners.at(0)).script, project() / "setup.sh");
}

TEST_F(VmFile, Kdl1ValuesAreCheckedLikeKdl2Ones) {
  std::vector<Problem> found =
      problems("vm \"old\" {\n    image \"disk.qcow2\"\n    uefi \"true\"\n    disk null\n}\n");
  ASSERT_EQ(found.size(), 2u) << describe(found);
  EXPECT_EQ(found[0].message, "`uefi` takes a boolean, not a string");
  EXPECT_EQ(found[1].message, "`disk` takes an integer, not #null");
}

// ---- the existing vmctl's documented examples --------------------------------------------------
// From the Rust vmctl's book (github.com/Toasterson/vm-manager, docs/src/),
// verbatim; each must keep its documented meaning.

constexpr std::string_view kUbuntu = "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img";

SshConfig ssh_user(std::string user) {
  SshConfig ssh;
  ssh.user = std::move(user);
  return ssh;
}

CloudInitConfig hostname_only(std::string hostname) {
  CloudInitConfig cloud_init;
  cloud_init.hostname = std::move(hostname);
  return cloud_init;
}

// vmfile/full-example.md
constexpr std::string_view kFullExample = R"kdl(// Development VM with all options specified
vm "full-example" {
    // Image source: URL (auto-cached)
    image-url "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img"

    // Resources
    vcpus 4
    memory 4096
    disk 40

    // Networking: user-mode (default, no root needed)
    network "user"

    // Cloud-init guest configuration
    cloud-init {
        hostname "full-example"
        // ssh-key and user-data are omitted, so vmctl auto-generates an Ed25519 keypair
    }

    // SSH connection settings
    ssh {
        user "ubuntu"
        // private-key is omitted, so vmctl uses the auto-generated key
    }

    // Provisioners run in order after boot
    provision "shell" {
        inline "sudo apt-get update && sudo apt-get install -y build-essential curl git"
    }

    provision "file" {
        source "config/bashrc"
        destination "/home/ubuntu/.bashrc"
    }

    provision "shell" {
        script "scripts/setup-dev-tools.sh"
    }
}

// Second VM demonstrating TAP networking and explicit keys
vm "tap-example" {
    image "~/images/debian-12-generic-amd64.qcow2"

    vcpus 2
    memory 2048

    network "tap" {
        bridge "br0"
    }

    cloud-init {
        hostname "tap-vm"
        ssh-key "~/.ssh/id_ed25519.pub"
    }

    ssh {
        user "debian"
        private-key "~/.ssh/id_ed25519"
    }
}

// Minimal VM: just an image and defaults
vm "minimal" {
    image-url "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img"
}
)kdl";

TEST_F(VmFile, DocumentedFullExample) {
  touch("config/bashrc");
  touch("scripts/setup-dev-tools.sh");
  vmfile::VmFile file = parse(kFullExample);
  ASSERT_EQ(file.vms.size(), 3u);

  const vmfile::VmDefinition& full = file.vms[0];
  EXPECT_EQ(full.spec.name, "full-example");
  EXPECT_EQ(full.image_url, kUbuntu);
  EXPECT_EQ(full.spec.vcpus, 4u);
  EXPECT_EQ(full.spec.memory_mb, 4096u);
  EXPECT_EQ(full.spec.disk_gb, 40u);
  EXPECT_EQ(full.spec.network, NetworkConfig{UserNetwork{}});
  EXPECT_EQ(full.spec.cloud_init, hostname_only("full-example"));
  EXPECT_EQ(full.spec.ssh, ssh_user("ubuntu"));
  ASSERT_EQ(full.provisioners.size(), 3u);
  EXPECT_EQ(std::get<provision::ShellInline>(full.provisioners[0]).command,
            "sudo apt-get update && sudo apt-get install -y build-essential curl git");
  EXPECT_EQ(std::get<provision::FileCopy>(full.provisioners[1]).source, project() / "config/bashrc");
  EXPECT_EQ(std::get<provision::FileCopy>(full.provisioners[1]).destination, "/home/ubuntu/.bashrc");
  EXPECT_EQ(std::get<provision::ShellScript>(full.provisioners[2]).script, project() / "scripts/setup-dev-tools.sh");

  const vmfile::VmDefinition& tap = file.vms[1];
  EXPECT_EQ(tap.spec.image_path, (home_ / "images/debian-12-generic-amd64.qcow2").string());
  EXPECT_EQ(tap.image_url, std::nullopt);
  EXPECT_EQ(tap.spec.vcpus, 2u);
  EXPECT_EQ(tap.spec.memory_mb, 2048u);
  EXPECT_EQ(tap.spec.network, NetworkConfig{TapNetwork{"br0"}});
  EXPECT_EQ(tap.spec.cloud_init->hostname, "tap-vm");
  EXPECT_EQ(tap.spec.ssh->user, "debian");
  EXPECT_EQ(tap.spec.ssh->public_key, key_.public_key.line());
  EXPECT_EQ(tap.spec.ssh->private_key_path, (home_ / ".ssh/id_ed25519").string());

  const vmfile::VmDefinition& minimal = file.vms[2];
  EXPECT_EQ(minimal.image_url, kUbuntu);
  EXPECT_EQ(minimal.spec.vcpus, 1u);
  EXPECT_EQ(minimal.spec.memory_mb, 1024u);
  EXPECT_EQ(minimal.spec.network, NetworkConfig{UserNetwork{}});
  EXPECT_EQ(minimal.spec.cloud_init, std::nullopt);
  EXPECT_TRUE(minimal.provisioners.empty());
}

// vmfile/vm-block.md; tutorials/declarative-workflow.md; introduction.md;
// getting-started/quick-start.md; concepts/imperative-vs-declarative.md
TEST_F(VmFile, DocumentedSingleVmExamples) {
  vmfile::VmDefinition dev = one_vm(R"kdl(vm "dev-server" {
    image-url "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img"
    vcpus 2
    memory 2048
    disk 20

    cloud-init {
        hostname "dev-server"
    }

    ssh {
        user "ubuntu"
    }
}
)kdl");
  EXPECT_EQ(dev.spec.name, "dev-server");
  EXPECT_EQ(dev.spec.disk_gb, 20u);
  EXPECT_EQ(dev.spec.cloud_init, hostname_only("dev-server"));
  EXPECT_EQ(dev.spec.ssh, ssh_user("ubuntu"));

  vmfile::VmDefinition web = one_vm(R"kdl(vm "webserver" {
    image-url "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img"
    vcpus 2
    memory 2048
    disk 20

    cloud-init {
        hostname "webserver"
    }

    ssh {
        user "ubuntu"
    }

    provision "shell" {
        inline "sudo apt-get update && sudo apt-get install -y nginx"
    }

    provision "shell" {
        inline "echo 'Hello from vmctl!' | sudo tee /var/www/html/index.html"
    }
}
)kdl");
  ASSERT_EQ(web.provisioners.size(), 2u);
  EXPECT_EQ(std::get<provision::ShellInline>(web.provisioners[1]).command,
            "echo 'Hello from vmctl!' | sudo tee /var/www/html/index.html");

  vmfile::VmDefinition intro = one_vm(R"kdl(vm "dev" {
    image-url "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img"
    vcpus 2
    memory 2048

    cloud-init {
        hostname "dev"
    }

    ssh {
        user "ubuntu"
    }

    provision "shell" {
        inline "sudo apt-get update && sudo apt-get install -y build-essential"
    }
}
)kdl");
  EXPECT_EQ(intro.spec.vcpus, 2u);
  EXPECT_EQ(intro.provisioners.size(), 1u);

  vmfile::VmDefinition myvm = one_vm(R"kdl(vm "myvm" {
    image-url "https://example.com/image.img"
    vcpus 2
    memory 2048

    cloud-init {
        hostname "myvm"
    }

    ssh {
        user "ubuntu"
    }

    provision "shell" {
        inline "echo hello"
    }
}
)kdl");
  EXPECT_EQ(myvm.image_url, "https://example.com/image.img");
  EXPECT_EQ(std::get<provision::ShellInline>(myvm.provisioners.at(0)).command, "echo hello");
}

// advanced/oci-registries (the OCI page): the VM and the workflow's builder.
TEST_F(VmFile, DocumentedOciExamples) {
  vmfile::VmDefinition dev = one_vm(R"kdl(vm "dev" {
    image-url "oci://ghcr.io/myorg/ubuntu-dev:22.04"
    vcpus 2
    memory 2048

    cloud-init {
        hostname "dev"
    }

    ssh {
        user "ubuntu"
    }
}
)kdl");
  EXPECT_EQ(dev.image_url, "oci://ghcr.io/myorg/ubuntu-dev:22.04");
  EXPECT_EQ(dev.spec.ssh, ssh_user("ubuntu"));

  vmfile::VmDefinition builder = one_vm(R"kdl(vm "builder" {
    image-url "oci://ghcr.io/myorg/ubuntu-noble-dev:latest"
    vcpus 4
    memory 4096
    disk 40

    cloud-init {
        hostname "builder"
    }

    ssh {
        user "ubuntu"
    }

    provision "shell" {
        inline "sudo apt-get update && sudo apt-get install -y build-essential"
    }
}
)kdl");
  EXPECT_EQ(builder.image_url, "oci://ghcr.io/myorg/ubuntu-noble-dev:latest");
  EXPECT_EQ(builder.spec.disk_gb, 40u);

  // The self-hosted registry's one-line snippet, inside a vm block.
  EXPECT_EQ(one_vm("vm \"local\" {\nimage-url \"oci://localhost:5000/my-vm-image:latest\"\n}").image_url,
            "oci://localhost:5000/my-vm-image:latest");
}

// vmfile/multi-vm.md
TEST_F(VmFile, DocumentedMultiVmExample) {
  vmfile::VmFile file = parse(R"kdl(vm "web" {
    image-url "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img"
    vcpus 2
    memory 2048

    cloud-init {
        hostname "web"
    }

    ssh {
        user "ubuntu"
    }

    provision "shell" {
        inline "sudo apt-get update && sudo apt-get install -y nginx"
    }
}

vm "db" {
    image-url "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img"
    vcpus 2
    memory 4096
    disk 50

    cloud-init {
        hostname "db"
    }

    ssh {
        user "ubuntu"
    }

    provision "shell" {
        inline "sudo apt-get update && sudo apt-get install -y postgresql"
    }
}
)kdl");
  ASSERT_EQ(file.vms.size(), 2u);
  EXPECT_EQ(file.vms[0].spec.name, "web");
  EXPECT_EQ(file.vms[1].spec.name, "db");
  EXPECT_EQ(file.vms[1].spec.memory_mb, 4096u);
  EXPECT_EQ(file.vms[1].spec.disk_gb, 50u);
  EXPECT_EQ(file.find("db")->spec.cloud_init, hostname_only("db"));
}

// tutorials/provisioning.md; tutorials/omnios-builder.md (also the Rust
// project's own VMFile.kdl)
TEST_F(VmFile, DocumentedProvisioningExamples) {
  touch("src.tar.gz");
  vmfile::VmDefinition builder = one_vm(R"kdl(vm "builder" {
    image-url "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img"
    vcpus 4
    memory 4096

    cloud-init {
        hostname "builder"
    }

    ssh {
        user "ubuntu"
    }

    // Stage 1: Install dependencies
    provision "shell" {
        inline "sudo apt-get update && sudo apt-get install -y build-essential"
    }

    // Stage 2: Upload source code
    provision "file" {
        source "src.tar.gz"
        destination "/tmp/src.tar.gz"
    }

    // Stage 3: Build
    provision "shell" {
        inline "cd /tmp && tar xzf src.tar.gz && cd src && make"
    }
}
)kdl");
  ASSERT_EQ(builder.provisioners.size(), 3u);
  EXPECT_EQ(std::get<provision::FileCopy>(builder.provisioners[1]).source, project() / "src.tar.gz");

  touch("scripts/bootstrap-omnios.sh");
  touch("scripts/forger-src.tar.gz");
  touch("scripts/install-forger.sh");
  vmfile::VmDefinition omnios = one_vm(R"kdl(vm "omnios-builder" {
    image-url "https://downloads.omnios.org/media/stable/omnios-r151056.cloud.qcow2"
    vcpus 4
    memory 4096
    disk 20

    cloud-init {
        hostname "omnios-builder"
    }

    ssh {
        user "smithy"
    }

    // Stage 1: System packages and Rust toolchain
    provision "shell" {
        script "scripts/bootstrap-omnios.sh"
    }

    // Stage 2: Upload forger source
    provision "file" {
        source "scripts/forger-src.tar.gz"
        destination "/tmp/forger-src.tar.gz"
    }

    // Stage 3: Extract and build forger
    provision "shell" {
        script "scripts/install-forger.sh"
    }
}
)kdl");
  EXPECT_EQ(omnios.spec.ssh, ssh_user("smithy"));
  ASSERT_EQ(omnios.provisioners.size(), 3u);
  EXPECT_EQ(std::get<provision::ShellScript>(omnios.provisioners[2]).script, project() / "scripts/install-forger.sh");
}

// advanced/tap-networking.md; vmfile/network.md; concepts/networking.md;
// advanced/propolis-illumos.md (vnic)
TEST_F(VmFile, DocumentedNetworkExamples) {
  touch("image.qcow2");
  vmfile::VmDefinition myvm = one_vm(R"kdl(vm "myvm" {
    image "image.qcow2"

    network "tap" {
        bridge "br0"
    }

    cloud-init {
        hostname "myvm"
    }

    ssh {
        user "ubuntu"
    }
}
)kdl");
  EXPECT_EQ(myvm.spec.image_path, (project() / "image.qcow2").string());
  EXPECT_EQ(myvm.spec.network, NetworkConfig{TapNetwork{"br0"}});

  // The snippets, inside a vm block.
  EXPECT_EQ(vm_with("network \"user\"").spec.network, NetworkConfig{UserNetwork{}});
  EXPECT_EQ(vm_with("network \"tap\"").spec.network, NetworkConfig{TapNetwork{"br0"}});
  EXPECT_EQ(vm_with("network \"tap\" {\n    bridge \"br0\"\n}").spec.network, NetworkConfig{TapNetwork{"br0"}});
  EXPECT_EQ(vm_with("network \"none\"").spec.network, NetworkConfig{NoNetwork{}});
  EXPECT_EQ(vm_with("network \"vnic\" {\n    name \"vnic0\"\n}").spec.network, NetworkConfig{VnicNetwork{"vnic0"}});
}

// vmfile/cloud-init.md; concepts/cloud-init-ssh.md; advanced/custom-cloud-init.md;
// vmfile/ssh.md; vmfile/overview.md (path resolution)
TEST_F(VmFile, DocumentedCloudInitAndSshExamples) {
  touch("path/to/cloud-config.yaml", "#cloud-config\n");
  vmfile::VmDefinition syntax = vm_with(R"kdl(cloud-init {
    hostname "myvm"
    ssh-key "~/.ssh/id_ed25519.pub"
    user-data "path/to/cloud-config.yaml"
}
)kdl");
  EXPECT_EQ(syntax.spec.cloud_init->hostname, "myvm");
  EXPECT_EQ(syntax.spec.cloud_init->user_data, "#cloud-config\n");
  EXPECT_EQ(syntax.spec.ssh->public_key, key_.public_key.line());

  vmfile::VmDefinition explicit_key = vm_with(R"kdl(cloud-init {
    ssh-key "~/.ssh/id_ed25519.pub"
}

ssh {
    user "ubuntu"
    private-key "~/.ssh/id_ed25519"
}
)kdl");
  EXPECT_EQ(explicit_key.spec.ssh->user, "ubuntu");
  EXPECT_EQ(explicit_key.spec.ssh->private_key_path, (home_ / ".ssh/id_ed25519").string());

  touch("my-cloud-config.yaml", "#cloud-config\nusers: []\n");
  EXPECT_EQ(vm_with("cloud-init {\n    user-data \"./my-cloud-config.yaml\"\n}").spec.cloud_init->user_data,
            "#cloud-config\nusers: []\n");

  touch("cloud-config.yaml", "#cloud-config\n");
  vmfile::VmDefinition custom = one_vm(R"kdl(vm "custom" {
    image-url "https://cloud-images.ubuntu.com/noble/current/noble-server-cloudimg-amd64.img"

    cloud-init {
        user-data "cloud-config.yaml"
    }
}
)kdl");
  EXPECT_EQ(custom.spec.cloud_init->user_data, "#cloud-config\n");
  EXPECT_EQ(custom.spec.ssh, SshConfig{});

  EXPECT_EQ(vm_with("ssh {\n    user \"ubuntu\"\n    private-key \"~/.ssh/id_ed25519\"\n}").spec.ssh->private_key_path,
            (home_ / ".ssh/id_ed25519").string());

  touch("images/ubuntu.qcow2");
  EXPECT_EQ(one_vm("vm \"p\" {\n// Relative to VMFile directory\nimage \"images/ubuntu.qcow2\"\n}").spec.image_path,
            (project() / "images/ubuntu.qcow2").string());
}

// The Rust parser's own test: the bridge as a property, "./" paths.
TEST_F(VmFile, RustParserTestFileWithBridgeProperty) {
  touch("images/ubuntu.qcow2");
  touch("nginx.conf");
  vmfile::VmDefinition web = one_vm(R"kdl(
vm "web" {
    image "images/ubuntu.qcow2"
    vcpus 2
    memory 2048
    disk 20
    network "tap" bridge="br0"

    cloud-init {
        hostname "webhost"
        ssh-key "~/.ssh/id_ed25519.pub"
    }

    ssh {
        user "admin"
        private-key "~/.ssh/id_ed25519"
    }

    provision "shell" {
        inline "apt update"
    }

    provision "file" {
        source "./nginx.conf"
        destination "/etc/nginx/nginx.conf"
    }
}
)kdl");
  EXPECT_EQ(web.spec.network, NetworkConfig{TapNetwork{"br0"}});
  EXPECT_EQ(web.spec.ssh->user, "admin");
  EXPECT_EQ(std::get<provision::FileCopy>(web.provisioners.at(1)).source, project() / "nginx.conf");
}

}  // namespace

// ---- mount: shared folders ---------------------------------------------------

namespace {

TEST_F(VmFile, MountsAreRelativeToTheVmFileAndDefaultToTheHostPath) {
  fs::create_directories(project() / "src");
  fs::create_directories(project() / "data");
  vmfile::VmDefinition vm = vm_with("    mount \"src\" \"/srv/src\"\n"
                                    "    mount \"./data/\" readonly=#true\n");
  ASSERT_EQ(vm.spec.shared_folders.size(), 2u);
  EXPECT_EQ(vm.spec.shared_folders[0], (SharedFolder{(project() / "src").string(), "/srv/src", false}));
  EXPECT_EQ(vm.spec.shared_folders[1],
            (SharedFolder{(project() / "data").string(), (project() / "data").string(), true}));
}

TEST_F(VmFile, AMountOfAMissingFolderIsAProblemAtItsPath) {
  expect_one(problems_with("    mount \"nowhere\" \"/srv\""), 3, 11, (project() / "nowhere").string(),
             "create the folder");
}

TEST_F(VmFile, AMountOnARelativeGuestPathIsAProblemAtTheGuestPath) {
  fs::create_directories(project() / "src");
  expect_one(problems_with("    mount \"src\" \"srv\""), 3, 17, "not an absolute path", "/srv/data");
}

TEST_F(VmFile, TwoMountsOnOneGuestPathAreAProblem) {
  fs::create_directories(project() / "a");
  fs::create_directories(project() / "b");
  expect_one(problems_with("    mount \"a\" \"/srv\"\n    mount \"b\" \"/srv\""), 1, 1, "two shared folders",
             "its own guest path");
}

TEST_F(VmFile, DataDisksHaveANameAndASizeInGb) {
  vmfile::VmDefinition vm = vm_with("    data-disk \"scratch\" size=20\n"
                                    "    data-disk \"logs\" size=1\n");
  EXPECT_EQ(vm.spec.data_disks, (std::vector<DataDisk>{{"scratch", 20}, {"logs", 1}}));
}

TEST_F(VmFile, ADataDiskWithoutASizeOrWithABadNameIsAProblem) {
  expect_one(problems_with("    data-disk \"scratch\""), 3, 5, "needs size=GB", "data-disk \"scratch\" size=20");
  expect_one(problems_with("    data-disk \"a,b\" size=1"), 3, 15, "invalid data disk name", "20");
  expect_one(problems_with("    data-disk \"scratch\" size=0"), 3, 30, "size", "");
}

TEST_F(VmFile, TwoDataDisksOfOneNameAreAProblem) {
  expect_one(problems_with("    data-disk \"x\" size=1\n    data-disk \"x\" size=2"), 1, 1, "two data disks",
             "its own name");
}

TEST_F(VmFile, ADataDiskTakesOnlySize) {
  std::vector<Problem> found = problems_with("    data-disk \"x\" size=1 format=\"raw\"");
  ASSERT_EQ(found.size(), 1u) << describe(found);
  EXPECT_NE(found[0].message.find("format"), std::string::npos) << describe(found);
}

TEST_F(VmFile, AMountTakesOnlyReadonly) {
  fs::create_directories(project() / "a");
  std::vector<Problem> found = problems_with("    mount \"a\" \"/srv\" writable=#true");
  ASSERT_EQ(found.size(), 1u) << describe(found);
  EXPECT_NE(found[0].message.find("writable"), std::string::npos) << describe(found);
}

}  // namespace
