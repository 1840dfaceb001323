// The NoCloud network-config for a static address, read back with yaml-cpp
// (cloud_init_schema_test has Debian's cloud-init render it).
#include "cloudinit/network_config.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "cloudinit/vm_seed.hpp"
#include "support/temp_dir.hpp"

namespace {
using namespace vm_manager;
using vmctl::test::TempDir;

std::vector<std::string> strings(const YAML::Node& list) {
  std::vector<std::string> out;
  for (const auto& item : list) out.push_back(item.as<std::string>());
  return out;
}

TEST(NetworkConfig, MatchesTheNicByItsMacAndGivesItTheAddressGatewayAndNameServers) {
  const std::string text = cloudinit::make_network_config(
      StaticAddress{"192.168.77.200/24", "192.168.77.1", {"192.168.77.1", "fd00::53"}}, "52:54:00:ab:cd:ef");
  YAML::Node doc = YAML::Load(text);
  EXPECT_EQ(doc["version"].as<int>(), 2);
  ASSERT_TRUE(doc["ethernets"].IsMap());
  ASSERT_EQ(doc["ethernets"].size(), 1u);
  YAML::Node nic = doc["ethernets"]["eth0"];
  ASSERT_TRUE(nic.IsMap()) << text;
  EXPECT_EQ(nic["match"]["macaddress"].as<std::string>(), "52:54:00:ab:cd:ef");
  EXPECT_FALSE(nic["match"]["driver"]);
  EXPECT_EQ(nic["set-name"].as<std::string>(), "eth0");
  EXPECT_FALSE(nic["dhcp4"].as<bool>());
  EXPECT_FALSE(nic["dhcp6"].as<bool>());
  EXPECT_EQ(strings(nic["addresses"]), std::vector<std::string>{"192.168.77.200/24"});
  ASSERT_EQ(nic["routes"].size(), 1u);
  EXPECT_EQ(nic["routes"][0]["to"].as<std::string>(), "0.0.0.0/0");
  EXPECT_EQ(nic["routes"][0]["via"].as<std::string>(), "192.168.77.1");
  EXPECT_EQ(strings(nic["nameservers"]["addresses"]), (std::vector<std::string>{"192.168.77.1", "fd00::53"}));
  // Quoted: a YAML 1.1 reader (PyYAML, cloud-init's) takes a bare 52:54:… for a base-60 number.
  EXPECT_NE(text.find("\"52:54:00:ab:cd:ef\""), std::string::npos) << text;
}

TEST(NetworkConfig, WithoutAMacTheVirtioNicIsMatchedByItsDriver) {
  YAML::Node nic = YAML::Load(cloudinit::make_network_config(StaticAddress{"10.0.0.5/24", "", {}}, ""))["ethernets"]
                                                                                                      ["eth0"];
  EXPECT_EQ(nic["match"]["driver"].as<std::string>(), "virtio_net");
  EXPECT_FALSE(nic["match"]["macaddress"]);
  EXPECT_EQ(strings(nic["addresses"]), std::vector<std::string>{"10.0.0.5/24"});
  EXPECT_FALSE(nic["routes"]) << "no gateway, no default route";
  EXPECT_FALSE(nic["nameservers"]);
}

TEST(NetworkConfig, AnIpv6GatewayIsTheIpv6DefaultRoute) {
  YAML::Node nic =
      YAML::Load(cloudinit::make_network_config(StaticAddress{"fd00::5/64", "fd00::1", {}}, "52:54:00:00:00:01"))
          ["ethernets"]["eth0"];
  EXPECT_EQ(strings(nic["addresses"]), std::vector<std::string>{"fd00::5/64"});
  EXPECT_EQ(nic["routes"][0]["to"].as<std::string>(), "::/0");
  EXPECT_EQ(nic["routes"][0]["via"].as<std::string>(), "fd00::1");
}

TEST(VmSeedNetwork, AStaticAddressPutsANetworkConfigOnTheSeed) {
  TempDir dir;
  VmSpec spec;
  spec.name = "fixed";
  spec.network = TapNetwork{"br0", StaticAddress{"192.168.77.200/24", "", {}}};
  // Even with neither cloud-init nor SSH: the address needs the seed.
  auto seed = cloudinit::make_vm_seed(spec, dir.path(), "iid-1", "52:54:00:00:00:02");
  ASSERT_TRUE(seed);
  ASSERT_TRUE(seed->files.network_config);
  EXPECT_EQ(*seed->files.network_config,
            cloudinit::make_network_config(StaticAddress{"192.168.77.200/24", "", {}}, "52:54:00:00:00:02"));

  spec.network = TapNetwork{"br0"};
  spec.ssh = SshConfig{};
  seed = cloudinit::make_vm_seed(spec, dir.path(), "iid-2", "52:54:00:00:00:02");
  ASSERT_TRUE(seed);
  EXPECT_FALSE(seed->files.network_config) << "DHCP: cloud-init's own fallback config";
}

}  // namespace
