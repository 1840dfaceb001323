// validate_spec: the checks every backend relies on.
#include "vm_manager/spec_check.hpp"

#include <gtest/gtest.h>

#include <string>

#include "vm_manager/error.hpp"

namespace vm_manager {
namespace {

VmSpec valid_spec() {
  VmSpec spec;
  spec.name = "web";
  return spec;
}

// Expects validate_spec to raise `code`, with a message mentioning `field`
// and a non-empty hint; the message is one line unless `one_line` is false.
void expect_rejected(const VmSpec& spec, std::string_view code, std::string_view field, bool one_line = true) {
  try {
    validate_spec(spec);
    ADD_FAILURE() << "validate_spec accepted a spec with a bad " << field;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.message();
    EXPECT_FALSE(e.help().empty()) << e.message();
    if (one_line) {
      for (char c : e.message()) {
        auto u = static_cast<unsigned char>(c);
        EXPECT_TRUE(u >= 0x20 && u != 0x7f) << "control character " << int(u) << " in: " << e.message();
      }
    }
    EXPECT_NE(e.message().find(field), std::string::npos) << "message does not name " << field << ": " << e.message();
  }
}

TEST(SpecCheck, DefaultsWithAValidNameAreAccepted) { EXPECT_NO_THROW(validate_spec(valid_spec())); }

TEST(SpecCheck, EverythingSetAndInRangeIsAccepted) {
  VmSpec spec = valid_spec();
  spec.backend = std::string("qemu");
  spec.vcpus = 4;
  spec.memory_mb = 4096;
  spec.disk_gb = 20;
  spec.network = TapNetwork{"br0"};
  spec.cloud_init = CloudInitConfig{"#cloud-config\n", "iid", "web"};
  spec.ssh = SshConfig{};
  spec.uefi = true;
  spec.accel = Accel::kvm;
  spec.kernel = "/boot/vmlinuz";
  EXPECT_NO_THROW(validate_spec(spec));
}

TEST(SpecCheck, InvalidNameIsRefusedAsInvalidName) {
  VmSpec spec = valid_spec();
  spec.name = "../etc";
  EXPECT_FALSE(spec.name.empty());
  try {
    validate_spec(spec);
    FAIL() << "accepted an invalid name";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::vm_invalid_name);
  }
  spec.name = "";
  EXPECT_THROW(validate_spec(spec), Error);
}

TEST(SpecCheck, Vcpus) {
  VmSpec spec = valid_spec();
  spec.vcpus = 0;
  expect_rejected(spec, errc::spec_invalid, "vcpus");
  spec.vcpus = kMaxVcpus + 1;
  expect_rejected(spec, errc::spec_invalid, "vcpus");
  spec.vcpus = UINT32_MAX;
  expect_rejected(spec, errc::spec_invalid, "vcpus");
  spec.vcpus = 1;
  EXPECT_NO_THROW(validate_spec(spec));
  spec.vcpus = kMaxVcpus;
  EXPECT_NO_THROW(validate_spec(spec));
}

TEST(SpecCheck, Memory) {
  VmSpec spec = valid_spec();
  spec.memory_mb = 0;
  expect_rejected(spec, errc::spec_invalid, "memory");
  spec.memory_mb = kMinMemoryMb - 1;
  expect_rejected(spec, errc::spec_invalid, "memory");
  spec.memory_mb = kMaxMemoryMb + 1;
  expect_rejected(spec, errc::spec_invalid, "memory");
  spec.memory_mb = UINT64_MAX;
  expect_rejected(spec, errc::spec_invalid, "memory");
  spec.memory_mb = kMinMemoryMb;
  EXPECT_NO_THROW(validate_spec(spec));
  spec.memory_mb = kMaxMemoryMb;
  EXPECT_NO_THROW(validate_spec(spec));
}

TEST(SpecCheck, Disk) {
  VmSpec spec = valid_spec();
  spec.disk_gb = 0;
  expect_rejected(spec, errc::spec_invalid, "disk");
  spec.disk_gb = kMaxDiskGb + 1;
  expect_rejected(spec, errc::spec_invalid, "disk");
  spec.disk_gb = 1;
  EXPECT_NO_THROW(validate_spec(spec));
  spec.disk_gb = kMaxDiskGb;
  EXPECT_NO_THROW(validate_spec(spec));
  spec.disk_gb.reset();  // unset: the image's own size
  EXPECT_NO_THROW(validate_spec(spec));
}

VmSpec with_address(StaticAddress fixed, bool vnic = false) {
  VmSpec spec = valid_spec();
  if (vnic) {
    spec.network = VnicNetwork{"vnic0", std::move(fixed)};
  } else {
    spec.network = TapNetwork{"br0", std::move(fixed)};
  }
  return spec;
}

TEST(SpecCheck, StaticAddressesOfEitherVersionAreAccepted) {
  for (bool vnic : {false, true}) {
    EXPECT_NO_THROW(validate_spec(with_address({"192.168.10.5/24", "192.168.10.1", {"192.168.10.1", "9.9.9.9"}}, vnic)));
    EXPECT_NO_THROW(validate_spec(with_address({"10.0.0.1/32", "", {}}, vnic)));
    EXPECT_NO_THROW(validate_spec(with_address({"10.0.0.1/1", "", {"fd00::53"}}, vnic)));
    EXPECT_NO_THROW(validate_spec(with_address({"fd00::5/64", "fd00::1", {"fd00::53", "10.0.0.53", "::1"}}, vnic)));
    EXPECT_NO_THROW(validate_spec(with_address({"2001:db8::1/128", "", {}}, vnic)));
  }
}

class BadStaticAddress : public ::testing::TestWithParam<std::string> {};

TEST_P(BadStaticAddress, IsRejected) {
  expect_rejected(with_address({GetParam(), "", {}}), errc::spec_invalid, "static address", /*one_line=*/false);
  expect_rejected(with_address({GetParam(), "", {}}, true), errc::spec_invalid, "static address", false);
}

INSTANTIATE_TEST_SUITE_P(Addresses, BadStaticAddress,
                         ::testing::Values("", "192.168.10.5", "192.168.10.5/", "192.168.10.5/0", "192.168.10.5/33",
                                           "192.168.10.5/024", "192.168.10.5/+24", "192.168.10.5/24/24",
                                           "192.168.10.5/ 24", "192.168.10/24", "192.168.10.256/24", "fd00::5",
                                           "fd00::5/129", "fd00::5/0", "[fd00::5]/64", "fe80::1%eth0/64",
                                           "host.example/24", "/24", "192.168.10.5/24\n",
                                           std::string("10.0.0.1/8\0", 11)));

TEST(SpecCheck, GatewayAndNameServersArePlainAddresses) {
  for (std::string bad : {"192.168.10.1/24", "gw", "192.168.10", "[fd00::1]", "192.168.10.1 "}) {
    expect_rejected(with_address({"192.168.10.5/24", bad, {}}), errc::spec_invalid, "gateway");
    expect_rejected(with_address({"192.168.10.5/24", "", {bad}}), errc::spec_invalid, "name server");
  }
  expect_rejected(with_address({"192.168.10.5/24", "", {"1.1.1.1", ""}}), errc::spec_invalid, "name server");
}

TEST(SpecCheck, TheGatewayIsOfTheAddresssVersion) {
  expect_rejected(with_address({"192.168.10.5/24", "fd00::1", {}}), errc::spec_invalid, "gateway");
  expect_rejected(with_address({"fd00::5/64", "192.168.10.1", {}}), errc::spec_invalid, "gateway");
}

TEST(SpecCheck, AtMostThreeNameServers) {
  EXPECT_NO_THROW(validate_spec(with_address({"10.0.0.5/24", "", {"10.0.0.1", "10.0.0.2", "10.0.0.3"}})));
  expect_rejected(with_address({"10.0.0.5/24", "", {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"}}),
                  errc::spec_invalid, "name servers");
}

class BadBridge : public ::testing::TestWithParam<std::string> {};

TEST_P(BadBridge, IsRejected) {
  VmSpec spec = valid_spec();
  spec.network = TapNetwork{GetParam()};
  // One-line messages for names with control characters: see the disabled
  // test below.
  expect_rejected(spec, errc::spec_invalid, "bridge", /*one_line=*/false);
}

INSTANTIATE_TEST_SUITE_P(Names, BadBridge,
                         ::testing::Values("br,0", "br0,id=x", "br 0", " br0", "br0 ", "abcdefghijklmnop" /* 16 */,
                                           std::string(100, 'b'), "br0\n", "br/0", "br:0", "br=0",
                                           std::string("br\0x", 4), "br\xc3\xa9"));

TEST(SpecCheck, BadBridgeMessagesAreOneLine) {
  VmSpec spec = valid_spec();
  for (std::string bridge : {"br,0", "br 0", "abcdefghijklmnop"}) {
    spec.network = TapNetwork{bridge};
    expect_rejected(spec, errc::spec_invalid, "bridge");
  }
}

// Error messages are one line (error.hpp), and a hostile name must not reach
// the terminal as escape sequences.
TEST(SpecCheck, MessagesEscapeControlCharacters) {
  VmSpec spec = valid_spec();
  for (std::string bad : {std::string("br0\n"), std::string("br\r0"), std::string("b\x1b[2J")}) {
    spec.network = TapNetwork{bad};
    expect_rejected(spec, errc::spec_invalid, "bridge");
    spec.network = VnicNetwork{bad};
    expect_rejected(spec, errc::spec_invalid, "VNIC");
  }
}

TEST(SpecCheck, GoodBridges) {
  VmSpec spec = valid_spec();
  for (std::string bridge : {"br0", "virbr0", "br-lan.10", "my_bridge", "abcdefghijklmno" /* 15 */}) {
    spec.network = TapNetwork{bridge};
    EXPECT_NO_THROW(validate_spec(spec)) << bridge;
  }
  // Empty: the backend's default bridge.
  spec.network = TapNetwork{""};
  EXPECT_NO_THROW(validate_spec(spec));
}

TEST(SpecCheck, VnicNames) {
  VmSpec spec = valid_spec();
  spec.network = VnicNetwork{"vnic0"};
  EXPECT_NO_THROW(validate_spec(spec));
  for (std::string bad : {"vnic,0", "vnic 0", "abcdefghijklmnop"}) {
    spec.network = VnicNetwork{bad};
    expect_rejected(spec, errc::spec_invalid, "VNIC");
  }
}

TEST(SpecCheck, OtherNetworkModesNeedNoNames) {
  VmSpec spec = valid_spec();
  spec.network = NoNetwork{};
  EXPECT_NO_THROW(validate_spec(spec));
  spec.network = UserNetwork{};
  EXPECT_NO_THROW(validate_spec(spec));
}

// User-data: at most kMaxUserDataBytes, and text holds no NUL byte.
TEST(SpecCheck, UserDataUpToTheLimitIsAccepted) {
  VmSpec spec = valid_spec();
  spec.cloud_init = CloudInitConfig{};
  spec.cloud_init->user_data = "#cloud-config\n" + std::string(kMaxUserDataBytes - 14, 'x');
  ASSERT_EQ(spec.cloud_init->user_data.size(), kMaxUserDataBytes);
  EXPECT_NO_THROW(validate_spec(spec));
  spec.cloud_init->user_data += 'x';
  expect_rejected(spec, errc::cloudinit_invalid_user_data, "4 MiB");
  EXPECT_EQ(kMaxUserDataBytes, 4u * 1024 * 1024);
}

TEST(SpecCheck, NulBytesInTextUserDataAreRefused) {
  VmSpec spec = valid_spec();
  spec.cloud_init = CloudInitConfig{};
  spec.cloud_init->user_data = std::string("#cloud-config\nruncmd: [x]\n\0more", 30);
  expect_rejected(spec, errc::cloudinit_invalid_user_data, "NUL byte at offset 26");
  // gzip carries NULs; the seed refuses it for what it is, with its own message.
  spec.cloud_init->user_data = std::string("\x1f\x8b\x08\0\0\0", 6);
  EXPECT_NO_THROW(validate_spec(spec));
}

}  // namespace
}  // namespace vm_manager
