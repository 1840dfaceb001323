// `vmctl hosts`' table and JSON (src/vmctl/host_view.cpp), from HostInfo
// values as a backend reports them.
#include "vmctl/host_view.hpp"

#include <gtest/gtest.h>

namespace vmctl {
namespace {

using vm_manager::HostInfo;

HostInfo reachable_host() {
  HostInfo host;
  host.name = "build1";
  host.backend = "libvirt";
  host.address = "qemu+ssh://ci@build1/system";
  host.reachable = true;
  host.cpus = 8;
  host.memory_mb = 16384;
  host.free_memory_mb = 1536;
  host.running_vms = {"db", "web"};
  return host;
}

HostInfo unreachable_host() {
  HostInfo host;
  host.name = "build2";
  host.backend = "libvirt";
  host.address = "qemu+ssh://ci@build2/system";
  host.error = "cannot reach qemu+ssh://ci@build2/system: connection refused";
  return host;
}

TEST(HostView, TableShowsCapacityAndVmsOfReachableHostsOnly) {
  HostInfo idle = reachable_host();
  idle.name = "local";
  idle.address = "qemu:///system";
  idle.running_vms.clear();
  EXPECT_EQ(hosts_table({reachable_host(), unreachable_host(), idle}),
            "NAME    BACKEND  ADDRESS                      REACHABLE  CPUS  MEMORY    FREE     VMS\n"
            "build1  libvirt  qemu+ssh://ci@build1/system  yes        8     16.0 GiB  1.5 GiB  2: db, web\n"
            "build2  libvirt  qemu+ssh://ci@build2/system  no         -     -         -        -\n"
            "local   libvirt  qemu:///system               yes        8     16.0 GiB  1.5 GiB  0\n");
}

TEST(HostView, JsonCarriesEveryFieldAndTheErrorOfAnUnreachableHost) {
  nlohmann::json all = hosts_json({reachable_host(), unreachable_host()});
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0], (nlohmann::json{{"name", "build1"},
                                    {"backend", "libvirt"},
                                    {"address", "qemu+ssh://ci@build1/system"},
                                    {"reachable", true},
                                    {"cpus", 8},
                                    {"memory_mb", 16384},
                                    {"free_memory_mb", 1536},
                                    {"running_vms", {"db", "web"}}}));
  EXPECT_EQ(all[1].at("reachable"), false);
  EXPECT_EQ(all[1].at("error"), "cannot reach qemu+ssh://ci@build2/system: connection refused");
  EXPECT_EQ(all[1].at("running_vms"), nlohmann::json::array());
  EXPECT_EQ(hosts_json({}), nlohmann::json::array());
}

}  // namespace
}  // namespace vmctl
