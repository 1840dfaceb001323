#include "backends/libvirt/config.hpp"

#include <gtest/gtest.h>

#include "backends/libvirt/libvirt_backend.hpp"
#include "backends/libvirt/storage.hpp"
#include "backends/libvirt/vm_record.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::libvirt {
namespace {

TEST(LibvirtConfig, DefaultsWithoutEnvironment) {
  LibvirtConfig config = LibvirtConfig::from_environment(Environment());
  Placement p = placement_from({}, config);
  EXPECT_EQ(p.uri, "qemu:///system");
  EXPECT_EQ(p.pool, "default");
  EXPECT_EQ(p.network, "default");
  EXPECT_EQ(p.host, "qemu:///system");  // no name given: the URI names the host
}

TEST(LibvirtConfig, EnvironmentThenOptions) {
  Environment env;
  env.set("VMCTL_LIBVIRT_URI", "qemu+ssh://a@h1/system");
  env.set("VMCTL_LIBVIRT_POOL", "vms");
  env.set("VMCTL_LIBVIRT_NETWORK", "lan");
  env.set("VMCTL_LIBVIRT_CONNECT_TIMEOUT", "7");
  LibvirtConfig config = LibvirtConfig::from_environment(env);
  EXPECT_EQ(config.connect_timeout, std::chrono::seconds(7));
  Placement from_env = placement_from({}, config);
  EXPECT_EQ(from_env.uri, "qemu+ssh://a@h1/system");
  EXPECT_EQ(from_env.pool, "vms");
  EXPECT_EQ(from_env.network, "lan");
  Placement from_options = placement_from(
      {{"connect", "qemu+ssh://b@h2/system"}, {"pool", "p2"}, {"network", "n2"}, {"host", "build2"}}, config);
  EXPECT_EQ(from_options.uri, "qemu+ssh://b@h2/system");
  EXPECT_EQ(from_options.pool, "p2");
  EXPECT_EQ(from_options.network, "n2");
  EXPECT_EQ(from_options.host, "build2");
}

TEST(LibvirtConfig, BadTimeoutIsRefused) {
  for (const char* bad : {"0", "-1", "x", "3601", "5s"}) {
    try {
      Environment env;
      env.set("VMCTL_LIBVIRT_CONNECT_TIMEOUT", bad);
      LibvirtConfig::from_environment(env);
      ADD_FAILURE() << bad << " was taken";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::spec_invalid) << bad;
    }
  }
}

TEST(LibvirtStoredPaths, ConsoleLogMustBeTheVmsLogVolume) {
  vmctl::test::TempDir dir;
  LibvirtBackend backend(DataDir(dir / "data"), LibvirtConfig{});
  VmHandle h;
  h.name = "web";
  h.id = "0f5c3a1e-1111-2222-3333-444455556666";
  write_record({"qemu:///system", "default", "default", "/var/lib/libvirt/images", false}, h);
  h.console_log = "/var/lib/libvirt/images/" + console_log_volume(h.id);
  EXPECT_NO_THROW(backend.check_stored_paths(h));
  h.console_log.clear();  // a remote VM's: none
  EXPECT_NO_THROW(backend.check_stored_paths(h));
  for (const char* bad : {"/etc/shadow", "/var/lib/libvirt/images/vmctl-other-console.log",
                          "/tmp/vmctl-0f5c3a1e-1111-2222-3333-444455556666-console.log"}) {
    h.console_log = bad;
    try {
      backend.check_stored_paths(h);
      ADD_FAILURE() << bad << " was taken";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), errc::store_corrupt) << bad;
    }
  }
}

TEST(LibvirtRecord, ReadBackAndRefusedWhenMissing) {
  VmHandle h;
  h.name = "web";
  write_record({"test:///default", "p", "n", "/pool", true}, h);
  VmRecord r = read_record(h);
  EXPECT_EQ(r.uri, "test:///default");
  EXPECT_EQ(r.pool, "p");
  EXPECT_EQ(r.network, "n");
  EXPECT_EQ(r.pool_path, "/pool");
  EXPECT_TRUE(r.uefi);
  h.backend_state = BackendState{};
  try {
    read_record(h);
    FAIL() << "an empty record was taken";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), errc::store_corrupt);
  }
}

}  // namespace
}  // namespace vm_manager::libvirt
