#include "backends/libvirt/uri.hpp"

#include <gtest/gtest.h>

#include "vm_manager/error.hpp"

namespace vm_manager::libvirt {
namespace {

TEST(LibvirtUri, LocalSystemUriHasNoHost) {
  LibvirtUri uri = parse_uri("qemu:///system");
  EXPECT_EQ(uri.driver, "qemu");
  EXPECT_EQ(uri.transport, "");
  EXPECT_EQ(uri.host, "");
  EXPECT_EQ(uri.path, "/system");
  EXPECT_FALSE(uri.remote());
  EXPECT_FALSE(ssh_jump_for(uri));
}

TEST(LibvirtUri, SshUriGivesTheJumpHostWithKeyfileAndKnownHosts) {
  LibvirtUri uri = parse_uri("qemu+ssh://ci@build1.example:2222/system?keyfile=/k/id%20x&known_hosts=/t/kh&no_verify=0");
  EXPECT_EQ(uri.driver, "qemu");
  EXPECT_EQ(uri.transport, "ssh");
  EXPECT_EQ(uri.user, "ci");
  EXPECT_EQ(uri.host, "build1.example");
  EXPECT_EQ(uri.port, 2222);
  EXPECT_EQ(uri.path, "/system");
  EXPECT_TRUE(uri.remote());
  auto jump = ssh_jump_for(uri);
  ASSERT_TRUE(jump);
  EXPECT_EQ(*jump, (SshJumpHost{"ci", "build1.example", 2222, "/k/id x", "/t/kh"}));
}

TEST(LibvirtUri, SshUriWithoutPortOrUserUsesPort22AndNoUser) {
  auto jump = ssh_jump_for(parse_uri("qemu+ssh://host/system"));
  ASSERT_TRUE(jump);
  EXPECT_EQ(jump->user, "");
  EXPECT_EQ(jump->port, 22);
  EXPECT_EQ(jump->identity_file, "");
}

TEST(LibvirtUri, Ipv6HostInBrackets) {
  LibvirtUri uri = parse_uri("qemu+ssh://root@[::1]:22022/system");
  EXPECT_EQ(uri.host, "::1");
  EXPECT_EQ(uri.port, 22022);
}

TEST(LibvirtUri, TcpUriIsRemoteButHasNoJumpHost) {
  LibvirtUri uri = parse_uri("qemu+tcp://10.0.0.5/system");
  EXPECT_TRUE(uri.remote());
  EXPECT_FALSE(ssh_jump_for(uri));
}

TEST(LibvirtUri, TestDriverUri) {
  LibvirtUri uri = parse_uri("test:///default");
  EXPECT_EQ(uri.driver, "test");
  EXPECT_EQ(uri.path, "/default");
  EXPECT_FALSE(uri.remote());
}

TEST(LibvirtUri, RefusesWhatIsNoUri) {
  for (const char* bad : {"qemu", "/system", "://host/system", "qe mu:///system", "qemu+ssh://h:0/system",
                          "qemu+ssh://h:99999/system", "qemu+ssh://h:x/system", "qemu+ssh://[::1/system",
                          "qemu:///system?a=%zz"}) {
    try {
      parse_uri(bad);
      ADD_FAILURE() << bad << " was taken";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::spec_invalid) << bad;
    }
  }
}

}  // namespace
}  // namespace vm_manager::libvirt
