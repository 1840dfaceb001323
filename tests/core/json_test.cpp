// JSON of the public types: exact round trips, lenient about missing and
// unknown fields, strict about types and enum names.
#include "vm_manager/json.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "vm_manager/types.hpp"

namespace vm_manager {

// Readable failure messages: gtest prints values through these (found by ADL).
[[maybe_unused]] static void PrintTo(const VmHandle& h, std::ostream* os) { *os << nlohmann::json(h).dump(); }
[[maybe_unused]] static void PrintTo(const VmSpec& s, std::ostream* os) { *os << nlohmann::json(s).dump(); }
[[maybe_unused]] static void PrintTo(const NetworkConfig& n, std::ostream* os) { *os << nlohmann::json(n).dump(); }
[[maybe_unused]] static void PrintTo(const ConsoleEndpoint& c, std::ostream* os) {
  *os << nlohmann::json(c).dump();
}

namespace {

using nlohmann::json;
using namespace std::string_literals;

// Arbitrary bytes, including NUL, 0xff and an invalid UTF-8 sequence.
std::string binary_user_data() {
  std::string bytes = "#cloud-config\n"s + '\0' + "\xff\xfe\x80\x00\x01"s + "\xc3\x28"s + '\0';
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  return bytes;
}

VmSpec full_spec(NetworkConfig network) {
  VmSpec spec;
  spec.name = "web-1";
  spec.backend = std::string("qemu");
  spec.image_path = "/images/debian-12.qcow2";
  spec.vcpus = 8;
  spec.memory_mb = 16384;
  spec.disk_gb = 40;
  spec.network = std::move(network);
  spec.port_forwards = {{"0.0.0.0", 8080, 80, PortProtocol::tcp}, {"127.0.0.1", 5353, 53, PortProtocol::udp}};
  spec.shared_folders = {{"/home/admin/src", "/src", false}, {"/srv/data", "/data", true}};
  spec.data_disks = {{"scratch", 20}, {"cache", 5}};
  spec.cloud_init = CloudInitConfig{binary_user_data(), "iid-web-1", "web-1.example"};
  spec.ssh = SshConfig{"admin", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk admin@host", "/home/admin/.ssh/id_ed25519"};
  spec.uefi = true;
  spec.accel = Accel::kvm;
  spec.vnc = VncMode::tcp;
  spec.kernel = "/boot/vmlinuz";
  spec.initrd = "/boot/initrd.img";
  spec.cmdline = "console=ttyS0 root=/dev/vda1 quiet";
  spec.backend_options = {{"propolis_api", "10.0.5.20/24"}, {"other", "x"}};
  return spec;
}

VmHandle full_handle(NetworkConfig network) {
  VmHandle h;
  h.id = "3f1c2a9e-8b7d-4c6e-9a5f-1e2d3c4b5a69";
  h.name = "web-1";
  h.backend = std::string("propolis");
  h.work_dir = "/var/lib/vmctl/vms/web-1";
  h.seed_iso_path = "/var/lib/vmctl/vms/web-1/seed.iso";
  h.disk_gb = 40;
  h.console_log = "/var/lib/vmctl/vms/web-1/console.log";
  h.host = "build1";
  h.ssh_jump = SshJumpHost{"ci", "build1.example", 2222, "/home/ci/.ssh/id_ed25519", "/home/ci/.ssh/known_hosts"};
  h.vcpus = 8;
  h.memory_mb = 16384;
  h.network = std::move(network);
  h.port_forwards = {{"127.0.0.1", 8443, 443, PortProtocol::tcp}};
  h.shared_folders = {{"/home/admin/src", "/home/admin/src", true}};
  h.data_disks = {{"scratch", 20}};
  h.ssh_host = "10.0.2.15";
  h.ssh_port = 2222;
  h.ssh_user = "vm";
  h.ssh_identity_file = "/var/lib/vmctl/vms/web-1/id_ed25519";
  h.ssh_known_hosts = "/var/lib/vmctl/vms/web-1/known_hosts";
  h.ssh_host_key_alias = "vmctl-web-1";
  // Opaque to everything but its backend: any object, kept as it is.
  h.backend_state = BackendState{3, {{"zone_name", "vmctl-web-1"},
                                     {"propolis_address", "[::1]:12400"},
                                     {"pid", 123456},
                                     {"nested", {{"list", {1, "two", nullptr}}, {"big", 9876543210ull}}}}};
  return h;
}

// Through text, as the store does: dump must produce valid UTF-8 and parsing
// it back must give an equal value.
template <typename T>
T through_text(const T& value) {
  std::string text = json(value).dump();
  return json::parse(text).get<T>();
}

// Every field the test sets differs from the default, so a field that is
// dropped or defaulted on the way would be noticed.
void expect_every_key_differs(const json& full, const json& defaults) {
  ASSERT_TRUE(full.is_object());
  for (const auto& [key, value] : full.items()) {
    EXPECT_NE(value, defaults.value(key, json())) << "field '" << key << "' is left at its default";
  }
}

struct NetworkCase {
  const char* label;
  NetworkConfig network;
};

class JsonRoundTrip : public ::testing::TestWithParam<NetworkCase> {};

TEST_P(JsonRoundTrip, VmHandleIsExact) {
  VmHandle h = full_handle(GetParam().network);
  if (!std::holds_alternative<UserNetwork>(h.network)) {
    expect_every_key_differs(json(h), json(VmHandle{}));
  }
  VmHandle back = through_text(h);
  EXPECT_EQ(back, h);
  EXPECT_EQ(back.network, GetParam().network);
  EXPECT_EQ(json(back), json(h));
}

TEST_P(JsonRoundTrip, VmSpecIsExact) {
  VmSpec spec = full_spec(GetParam().network);
  if (!std::holds_alternative<UserNetwork>(spec.network)) {
    expect_every_key_differs(json(spec), json(VmSpec{}));
  }
  VmSpec back = through_text(spec);
  EXPECT_EQ(back, spec);
  ASSERT_TRUE(back.cloud_init.has_value());
  EXPECT_EQ(back.cloud_init->user_data, binary_user_data());
  EXPECT_EQ(back.network, GetParam().network);
}

TEST_P(JsonRoundTrip, NetworkConfigAlone) {
  NetworkConfig network = GetParam().network;
  EXPECT_EQ(through_text(network), network);
  EXPECT_EQ(json(network).at("mode"), std::string(network_mode(network)));
}

INSTANTIATE_TEST_SUITE_P(Networks, JsonRoundTrip,
                         ::testing::Values(NetworkCase{"user", UserNetwork{}},
                                           NetworkCase{"tap", TapNetwork{"br-lan0"}},
                                           NetworkCase{"vnic", VnicNetwork{"vnic0"}},
                                           NetworkCase{"tap_static",
                                                       TapNetwork{"br0", StaticAddress{"192.168.77.200/24",
                                                                                       "192.168.77.1",
                                                                                       {"192.168.77.1", "fd00::53"}}}},
                                           NetworkCase{"vnic_static",
                                                       VnicNetwork{"vnic0", StaticAddress{"fd00::5/64", "", {}}}},
                                           NetworkCase{"none", NoNetwork{}}),
                         [](const auto& row) { return std::string(row.param.label); });

TEST(Json, DefaultValuesRoundTrip) {
  EXPECT_EQ(through_text(VmHandle{}), VmHandle{});
  EXPECT_EQ(through_text(VmSpec{}), VmSpec{});
  EXPECT_EQ(through_text(CloudInitConfig{}), CloudInitConfig{});
  EXPECT_EQ(through_text(SshConfig{}), SshConfig{});
}

TEST(Json, OptionalFieldsUnsetStayUnset) {
  VmSpec spec = full_spec(TapNetwork{"br0"});
  spec.backend.reset();
  spec.disk_gb.reset();
  spec.cloud_init.reset();
  spec.ssh.reset();
  spec.kernel.reset();
  spec.initrd.reset();
  spec.cmdline.reset();
  EXPECT_EQ(through_text(spec), spec);

  VmHandle h = full_handle(NoNetwork{});
  h.disk_gb.reset();
  h.ssh_port.reset();
  EXPECT_EQ(through_text(h), h);
}

TEST(Json, EdgeValuesOfNumbersAndEmptyUserData) {
  VmHandle h = full_handle(UserNetwork{});
  h.backend_state.data["pid"] = -1;
  h.backend_state.data["pid_start_time"] = UINT64_MAX;
  h.memory_mb = UINT64_MAX;
  h.vcpus = UINT32_MAX;
  h.ssh_port = 65535;
  h.disk_gb = 0;
  EXPECT_EQ(through_text(h), h);

  VmSpec spec = full_spec(UserNetwork{});
  spec.cloud_init->user_data.clear();
  EXPECT_EQ(through_text(spec), spec);
}

TEST(Json, BinaryUserDataIsStoredAsBase64) {
  CloudInitConfig config{"\x00\xff"s, "i", "h"};
  json j = config;
  EXPECT_EQ(j.at("user_data_base64"), "AP8=");
  EXPECT_FALSE(j.contains("user_data"));
  EXPECT_EQ(j.get<CloudInitConfig>(), config);
}

TEST(Json, InvalidBase64UserDataRaises) {
  json j = {{"user_data_base64", "not base64!"}};
  EXPECT_THROW(j.get<CloudInitConfig>(), json::exception);
}

// The raw-image override is written only when set, so records of VMs that
// did not ask for it keep their shape.
TEST(Json, AllowUnrecognisedRawImageIsKeptOnlyWhenSet) {
  EXPECT_FALSE(json(VmSpec{}).contains("allow_unrecognised_raw_image"));
  VmSpec spec = full_spec(UserNetwork{});
  spec.allow_unrecognised_raw_image = true;
  json j = spec;
  EXPECT_EQ(j.at("allow_unrecognised_raw_image"), true);
  EXPECT_EQ(through_text(spec), spec);
}

// The on-disk names are a format: other versions of vmctl read them.
TEST(Json, StableFieldNames) {
  json h = full_handle(TapNetwork{"br0"});
  EXPECT_EQ(h.at("backend"), "propolis");
  EXPECT_EQ(h.at("network"), json({{"mode", "tap"}, {"bridge", "br0"}}));
  EXPECT_EQ(h.at("ssh_port"), 2222);
  EXPECT_EQ(h.at("backend_state").at("version"), 3);
  EXPECT_EQ(h.at("backend_state").at("data").at("zone_name"), "vmctl-web-1");
  EXPECT_EQ(json(VmHandle{}).at("ssh_port"), nullptr);
  EXPECT_EQ(json(VmHandle{}).at("backend_state"), json({{"version", 0}, {"data", json::object()}}));
  EXPECT_EQ(json(NetworkConfig{VnicNetwork{"vnic0"}}), json({{"mode", "vnic"}, {"vnic", "vnic0"}}));
  EXPECT_EQ(json(NetworkConfig{NoNetwork{}}), json({{"mode", "none"}}));
  EXPECT_EQ(json(NetworkConfig{UserNetwork{}}), json({{"mode", "user"}}));
  json s = full_spec(UserNetwork{});
  EXPECT_EQ(s.at("backend"), "qemu");
  EXPECT_EQ(json(VmSpec{}).at("backend"), nullptr);
  EXPECT_EQ(json(VmSpec{}).at("accel"), "auto");
  EXPECT_EQ(json(VmSpec{}).at("vnc"), "unix");
  EXPECT_EQ(s.at("vnc"), "tcp");
  EXPECT_EQ(s.at("backend_options"), json({{"other", "x"}, {"propolis_api", "10.0.5.20/24"}}));
  EXPECT_EQ(json(VmSpec{}).at("backend_options"), json::object());
}

// A static address is written only when there is one, so a record written
// before it existed reads as a network without one, and one without it is
// written as before.
TEST(Json, StaticAddressIsKeptOnlyWhenSet) {
  EXPECT_EQ(json(NetworkConfig{TapNetwork{"br0"}}), json({{"mode", "tap"}, {"bridge", "br0"}}));
  const NetworkConfig fixed = VnicNetwork{"vnic0", StaticAddress{"10.0.0.5/24", "10.0.0.1", {"10.0.0.53"}}};
  const json expected = {{"mode", "vnic"},
                         {"vnic", "vnic0"},
                         {"static", {{"address", "10.0.0.5/24"}, {"gateway", "10.0.0.1"}, {"dns", {"10.0.0.53"}}}}};
  EXPECT_EQ(json(fixed), expected);
  EXPECT_EQ(json({{"mode", "tap"}, {"bridge", "br0"}}).get<NetworkConfig>(), NetworkConfig{TapNetwork{"br0"}});
  EXPECT_EQ(json({{"mode", "tap"}, {"bridge", "br0"}, {"static", nullptr}}).get<NetworkConfig>(),
            NetworkConfig{TapNetwork{"br0"}});
  const NetworkConfig address_only = VnicNetwork{"v0", StaticAddress{"10.0.0.5/24", "", {}}};
  EXPECT_EQ(json({{"mode", "vnic"}, {"vnic", "v0"}, {"static", {{"address", "10.0.0.5/24"}}}}).get<NetworkConfig>(),
            address_only);
  for (json bad : {json("10.0.0.5/24"), json::array(), json({{"address", 5}}), json({{"dns", "10.0.0.53"}})}) {
    EXPECT_THROW((json{{"mode", "tap"}, {"static", bad}}.get<NetworkConfig>()), json::exception) << bad.dump();
  }
}

// backend_state must be an object holding an object; backend_options an
// object of strings.
TEST(Json, BackendStateAndOptionsOfTheWrongShapeRaise) {
  for (json bad : {json("x"), json(3), json::array(), json({{"version", "1"}}), json({{"data", "x"}}),
                   json({{"data", json::array()}})}) {
    json h = full_handle(UserNetwork{});
    h["backend_state"] = bad;
    EXPECT_THROW(h.get<VmHandle>(), json::exception) << bad.dump();
  }
  for (json bad : {json("x"), json::array({"a"}), json({{"propolis_api", 5}})}) {
    json s = full_spec(UserNetwork{});
    s["backend_options"] = bad;
    EXPECT_THROW(s.get<VmSpec>(), json::exception) << bad.dump();
  }
}

TEST(Json, OlderHandleLoadsWithDefaults) {
  json old = {{"id", "0b6f7c1e-0000-4000-8000-000000000001"},
              {"name", "old"},
              {"backend", "qemu"},
              {"work_dir", "/data/vms/old"}};
  VmHandle h = old.get<VmHandle>();

  VmHandle expected;
  expected.id = "0b6f7c1e-0000-4000-8000-000000000001";
  expected.name = "old";
  expected.backend = std::string("qemu");
  expected.work_dir = "/data/vms/old";
  EXPECT_EQ(h, expected);
  EXPECT_EQ(h.vcpus, 1u);
  EXPECT_EQ(h.memory_mb, 1024u);
  EXPECT_TRUE(std::holds_alternative<UserNetwork>(h.network));
  EXPECT_FALSE(h.ssh_port.has_value());
  EXPECT_EQ(h.backend_state, BackendState{});
}

TEST(Json, EmptyObjectsLoadAsDefaults) {
  EXPECT_EQ(json::object().get<VmHandle>(), VmHandle{});
  EXPECT_EQ(json::object().get<VmSpec>(), VmSpec{});
  EXPECT_EQ(json::object().get<SshConfig>(), SshConfig{});
  EXPECT_EQ(json::object().get<NetworkConfig>(), NetworkConfig{UserNetwork{}});
  EXPECT_EQ(json::object().get<ConsoleEndpoint>(), ConsoleEndpoint{NoConsole{}});
}

TEST(Json, NullFieldsLoadAsDefaults) {
  json j = {{"name", "web"}, {"vcpus", nullptr}, {"disk_gb", nullptr}, {"ssh", nullptr}, {"accel", nullptr}};
  VmSpec spec = j.get<VmSpec>();
  VmSpec expected;
  expected.name = "web";
  EXPECT_EQ(spec, expected);
}

TEST(Json, OlderSpecLoadsWithDefaults) {
  json old = {{"name", "old"}, {"image_path", "/i.qcow2"}, {"ssh", {{"public_key", "ssh-ed25519 AAAA"}}}};
  VmSpec spec = old.get<VmSpec>();
  EXPECT_EQ(spec.name, "old");
  EXPECT_EQ(spec.image_path, "/i.qcow2");
  EXPECT_FALSE(spec.backend.has_value());
  EXPECT_EQ(spec.vcpus, 1u);
  ASSERT_TRUE(spec.ssh.has_value());
  EXPECT_EQ(spec.ssh->user, "vm");  // the default user survives a partial object
  EXPECT_EQ(spec.ssh->public_key, "ssh-ed25519 AAAA");
  EXPECT_EQ(spec.vnc, VncMode::unix_socket) << "a record from before TCP VNC keeps VNC on its socket";
}

// A password a start set is for its caller only: it never reaches vm.json.
TEST(Json, AHandlesVncPasswordIsNeverWritten) {
  VmHandle h = full_handle(UserNetwork{});
  VmHandle with_password = h;
  with_password.vnc_password = VncPassword{"127.0.0.1:5901", "Xy3kP9qa"};
  json written = with_password;
  EXPECT_EQ(written, json(h));
  EXPECT_EQ(written.dump().find("Xy3kP9qa"), std::string::npos);
  EXPECT_EQ(through_text(with_password).vnc_password, std::nullopt);
}

TEST(Json, ReadingResetsTheTarget) {
  // from_json fills missing fields with defaults, not with what the target held.
  VmHandle h = full_handle(TapNetwork{"br0"});
  json({{"name", "x"}}).get_to(h);
  VmHandle expected;
  expected.name = "x";
  EXPECT_EQ(h, expected);
}

TEST(Json, UnknownFieldsAreIgnored) {
  VmHandle h = full_handle(TapNetwork{"br0"});
  json j = h;
  j["added_in_v9"] = {{"nested", {1, 2, 3}}};
  j["another"] = "text";
  j["network"]["mtu"] = 9000;
  EXPECT_EQ(j.get<VmHandle>(), h);

  VmSpec spec = full_spec(VnicNetwork{"vnic1"});
  json js = spec;
  js["future"] = true;
  js["cloud_init"]["vendor_data"] = "x";
  js["ssh"]["agent"] = false;
  EXPECT_EQ(js.get<VmSpec>(), spec);

  json console = {{"kind", "unix_socket"}, {"path", "/run/c.sock"}, {"extra", 1}};
  EXPECT_EQ(console.get<ConsoleEndpoint>(), ConsoleEndpoint{UnixSocketConsole{"/run/c.sock"}});
}

struct WrongType {
  const char* label;
  const char* key;
  json value;
};

class JsonWrongType : public ::testing::TestWithParam<WrongType> {};

TEST_P(JsonWrongType, HandleFieldRaises) {
  json j = full_handle(UserNetwork{});
  j[GetParam().key] = GetParam().value;
  EXPECT_THROW(j.get<VmHandle>(), json::exception) << j[GetParam().key].dump();
}

INSTANTIATE_TEST_SUITE_P(
    Fields, JsonWrongType,
    ::testing::Values(WrongType{"id_number", "id", 42}, WrongType{"name_array", "name", json::array({"a"})},
                      WrongType{"backend_number", "backend", 1}, WrongType{"work_dir_bool", "work_dir", true},
                      WrongType{"vcpus_string", "vcpus", "four"}, WrongType{"memory_string", "memory_mb", "1G"},
                      WrongType{"disk_string", "disk_gb", "40"}, WrongType{"seed_number", "seed_iso_path", 7},
                      WrongType{"console_log_object", "console_log", json::object()},
                      WrongType{"ssh_port_string", "ssh_port", "22"}, WrongType{"ssh_user_bool", "ssh_user", true},
                      WrongType{"ssh_host_array", "ssh_host", json::array()},
                      WrongType{"backend_state_string", "backend_state", "qemu"},
                      WrongType{"network_bridge_number", "network", json({{"mode", "tap"}, {"bridge", 5}})},
                      WrongType{"network_mode_number", "network", json({{"mode", 1}})}),
    [](const auto& row) { return std::string(row.param.label); });

TEST(Json, WrongTypesInSpecRaise) {
  json base = full_spec(UserNetwork{});
  auto with = [&](const char* key, json value) {
    json j = base;
    j[key] = std::move(value);
    return j;
  };
  EXPECT_THROW(with("vcpus", "two").get<VmSpec>(), json::exception);
  EXPECT_THROW(with("backend", 3).get<VmSpec>(), json::exception);
  EXPECT_THROW(with("cmdline", json::array()).get<VmSpec>(), json::exception);
  EXPECT_THROW(with("cloud_init", json({{"user_data_base64", 12}})).get<VmSpec>(), json::exception);
  EXPECT_THROW(with("cloud_init", json({{"hostname", false}})).get<VmSpec>(), json::exception);
  EXPECT_THROW(with("ssh", json({{"user", 0}})).get<VmSpec>(), json::exception);
}

// A present field whose type is wrong for an object-valued field is as wrong
// as a string where a number belongs ("strict about types", json.cpp).
TEST(Json, NonObjectForObjectFieldRaises) {
  json base = full_spec(TapNetwork{"br0"});
  for (const char* key : {"network", "ssh", "cloud_init"}) {
    for (json bad : {json("tap"), json(5), json::array({1})}) {
      json j = base;
      j[key] = bad;
      EXPECT_THROW(j.get<VmSpec>(), json::exception) << key << " = " << bad.dump();
    }
  }
  EXPECT_THROW(json("none").get<NetworkConfig>(), json::exception);
  EXPECT_THROW(json(42).get<VmHandle>(), json::exception);
}

TEST(Json, UnknownEnumNamesRaise) {
  EXPECT_THROW(json("sleeping").get<VmState>(), json::exception);
  EXPECT_THROW(json("hvf").get<Accel>(), json::exception);
  EXPECT_THROW(json("automatic").get<Accel>(), json::exception);  // the JSON name is "auto"
  EXPECT_THROW(json({{"mode", "bridge"}}).get<NetworkConfig>(), json::exception);
  EXPECT_THROW(json("vnc").get<VncMode>(), json::exception);
  EXPECT_THROW(json("unix_socket").get<VncMode>(), json::exception);  // the JSON name is "unix"
  EXPECT_THROW(json("sctp").get<PortProtocol>(), json::exception);
  EXPECT_THROW(json({{"host_port", 80}, {"protocol", "TCP"}}).get<PortForward>(), json::exception);
  EXPECT_THROW(json({{"host_port", 70000}}).get<PortForward>(), json::exception);
  EXPECT_THROW(json("/src").get<SharedFolder>(), json::exception);

  json h = full_handle(UserNetwork{});
  for (const char* not_an_id : {"Xen", "qemu ", "1qemu", "q-emu", "../qemu"}) {
    h["backend"] = not_an_id;
    EXPECT_THROW(h.get<VmHandle>(), json::exception) << not_an_id;
  }
  h = full_handle(UserNetwork{});
  h["network"] = {{"mode", "macvtap"}};
  EXPECT_THROW(h.get<VmHandle>(), json::exception);

  json s = full_spec(UserNetwork{});
  s["backend"] = "Hyper-V";
  EXPECT_THROW(s.get<VmSpec>(), json::exception);
}

// Which backend ids exist only the registry knows: JSON keeps a well-formed
// one it has never heard of, and the router refuses it (router_test).
TEST(Json, BackendIdsAreReadAsWritten) {
  json h = full_handle(UserNetwork{});
  h["backend"] = "xen";
  EXPECT_EQ(h.get<VmHandle>().backend, "xen");
  EXPECT_EQ(json(h.get<VmHandle>()).at("backend"), "xen");
  json s = full_spec(UserNetwork{});
  s["backend"] = "hyper_v2";
  EXPECT_EQ(s.get<VmSpec>().backend, "hyper_v2");
  s["backend"] = nullptr;
  EXPECT_EQ(s.get<VmSpec>().backend, std::nullopt);
}

TEST(Json, EnumsAsJson) {
  for (VmState state : {VmState::preparing, VmState::prepared, VmState::running, VmState::suspended,
                        VmState::stopped, VmState::failed, VmState::destroyed}) {
    EXPECT_EQ(json(state), std::string(to_string(state)));
    EXPECT_EQ(json(state).get<VmState>(), state);
  }
  for (Accel accel : {Accel::automatic, Accel::kvm, Accel::tcg}) {
    EXPECT_EQ(json(accel), std::string(to_string(accel)));
    EXPECT_EQ(json(accel).get<Accel>(), accel);
  }
}

TEST(Json, ConsoleEndpointRoundTrip) {
  for (const ConsoleEndpoint& endpoint :
       {ConsoleEndpoint{UnixSocketConsole{"/data/vms/web/console.sock"}},
        ConsoleEndpoint{WebSocketConsole{"ws://[::1]:12400/instance/serial", {}}},
        ConsoleEndpoint{WebSocketConsole{"ws://x/serial", {{"api-version", "5.0.0"}, {"x-two", "a b"}}}},
        ConsoleEndpoint{NoConsole{}},
        ConsoleEndpoint{UnixSocketConsole{""}}}) {
    EXPECT_EQ(through_text(endpoint), endpoint) << json(endpoint).dump();
  }
  EXPECT_EQ(json(ConsoleEndpoint{UnixSocketConsole{"/c"}}), json({{"kind", "unix_socket"}, {"path", "/c"}}));
  EXPECT_EQ(json(ConsoleEndpoint{WebSocketConsole{"ws://x", {{"api-version", "5.0.0"}}}}),
            json::parse(R"({"kind": "websocket", "url": "ws://x", "headers": [["api-version", "5.0.0"]]})"));
  EXPECT_EQ(json(ConsoleEndpoint{NoConsole{}}), json({{"kind", "none"}}));
}

TEST(TypesNames, BackendIds) {
  for (const char* id : {"noop", "qemu", "propolis", "x", "bhyve_2", "abcdefghijklmnopqrstuvwxyz012345"}) {
    EXPECT_TRUE(is_backend_id(id)) << id;
  }
  for (const char* not_an_id : {"", "Noop", "qemu ", "kvm-2", "2kvm", "_x", "a/b", "abcdefghijklmnopqrstuvwxyz0123456"}) {
    EXPECT_FALSE(is_backend_id(not_an_id)) << not_an_id;
  }
}

TEST(TypesNames, VmState) {
  const std::vector<std::pair<VmState, std::string>> table{
      {VmState::preparing, "preparing"}, {VmState::prepared, "prepared"}, {VmState::running, "running"},
      {VmState::suspended, "suspended"}, {VmState::stopped, "stopped"},   {VmState::failed, "failed"},
      {VmState::destroyed, "destroyed"}};
  for (const auto& [state, name] : table) {
    EXPECT_EQ(to_string(state), name);
    EXPECT_EQ(parse_vm_state(name), state);
  }
  EXPECT_EQ(parse_vm_state(""), std::nullopt);
  EXPECT_EQ(parse_vm_state("Running"), std::nullopt);
  EXPECT_EQ(parse_vm_state("paused"), std::nullopt);
}

TEST(TypesNames, Accel) {
  const std::vector<std::pair<Accel, std::string>> table{
      {Accel::automatic, "auto"}, {Accel::kvm, "kvm"}, {Accel::tcg, "tcg"}};
  for (const auto& [accel, name] : table) {
    EXPECT_EQ(to_string(accel), name);
    EXPECT_EQ(parse_accel(name), accel);
  }
  EXPECT_EQ(parse_accel("automatic"), std::nullopt);
  EXPECT_EQ(parse_accel("KVM"), std::nullopt);
  EXPECT_EQ(parse_accel(""), std::nullopt);
}

TEST(TypesNames, VncMode) {
  EXPECT_EQ(to_string(VncMode::unix_socket), "unix");
  EXPECT_EQ(to_string(VncMode::tcp), "tcp");
  EXPECT_EQ(parse_vnc_mode("unix"), VncMode::unix_socket);
  EXPECT_EQ(parse_vnc_mode("tcp"), VncMode::tcp);
  EXPECT_EQ(parse_vnc_mode("TCP"), std::nullopt);
  EXPECT_EQ(parse_vnc_mode(""), std::nullopt);
}

TEST(TypesNames, NetworkMode) {
  EXPECT_EQ(network_mode(UserNetwork{}), "user");
  EXPECT_EQ(network_mode(TapNetwork{"br0"}), "tap");
  EXPECT_EQ(network_mode(VnicNetwork{"v0"}), "vnic");
  EXPECT_EQ(network_mode(NoNetwork{}), "none");
}

TEST(JsonDataDisk, ReadsBackEqualAndRefusesANonObject) {
  DataDisk disk{"scratch", 20};
  EXPECT_EQ(json(disk).get<DataDisk>(), disk);
  EXPECT_THROW(json("scratch").get<DataDisk>(), json::exception);
}

TEST(JsonSnapshotInfo, ReadsBackEqualWithEveryField) {
  SnapshotInfo s{"before-upgrade", 1796000000, 10737418240, true, 201326592, 45500};
  json j = s;
  for (const char* key : {"name", "created_unix", "disk_bytes", "has_ram", "ram_bytes", "vm_clock_ms"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j.get<SnapshotInfo>(), s);
  EXPECT_THROW(json::array().get<SnapshotInfo>(), json::exception);
}

}  // namespace
}  // namespace vm_manager
