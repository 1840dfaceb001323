#include "vm_manager/types.hpp"

#include <array>
#include <utility>

namespace vm_manager {
namespace {

template <typename Enum, std::size_t N>
using NameTable = std::array<std::pair<Enum, std::string_view>, N>;

constexpr NameTable<VmState, 7> kStateNames{{
    {VmState::preparing, "preparing"},
    {VmState::prepared, "prepared"},
    {VmState::running, "running"},
    {VmState::suspended, "suspended"},
    {VmState::stopped, "stopped"},
    {VmState::failed, "failed"},
    {VmState::destroyed, "destroyed"},
}};

constexpr NameTable<Accel, 3> kAccelNames{{
    {Accel::automatic, "auto"},
    {Accel::kvm, "kvm"},
    {Accel::tcg, "tcg"},
}};

constexpr NameTable<VncMode, 2> kVncModeNames{{
    {VncMode::unix_socket, "unix"},
    {VncMode::tcp, "tcp"},
}};

constexpr NameTable<PortProtocol, 2> kPortProtocolNames{{
    {PortProtocol::tcp, "tcp"},
    {PortProtocol::udp, "udp"},
}};

template <typename Enum, std::size_t N>
std::string_view name_of(const NameTable<Enum, N>& table, Enum value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "unknown";
}

template <typename Enum, std::size_t N>
std::optional<Enum> value_of(const NameTable<Enum, N>& table, std::string_view text) {
  for (const auto& [v, name] : table) {
    if (name == text) return v;
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(VmState state) { return name_of(kStateNames, state); }
std::string_view to_string(Accel accel) { return name_of(kAccelNames, accel); }
std::string_view to_string(VncMode mode) { return name_of(kVncModeNames, mode); }
std::string_view to_string(PortProtocol protocol) { return name_of(kPortProtocolNames, protocol); }

std::optional<VmState> parse_vm_state(std::string_view text) { return value_of(kStateNames, text); }
std::optional<Accel> parse_accel(std::string_view text) { return value_of(kAccelNames, text); }
std::optional<VncMode> parse_vnc_mode(std::string_view text) { return value_of(kVncModeNames, text); }
std::optional<PortProtocol> parse_port_protocol(std::string_view text) {
  return value_of(kPortProtocolNames, text);
}

bool is_backend_id(std::string_view text) {
  if (text.empty() || text.size() > 32 || text[0] < 'a' || text[0] > 'z') return false;
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string_view network_mode(const NetworkConfig& network) {
  struct Mode {
    std::string_view operator()(const UserNetwork&) const { return "user"; }
    std::string_view operator()(const TapNetwork&) const { return "tap"; }
    std::string_view operator()(const VnicNetwork&) const { return "vnic"; }
    std::string_view operator()(const NoNetwork&) const { return "none"; }
  };
  return std::visit(Mode{}, network);
}

const StaticAddress* static_address(const NetworkConfig& network) {
  if (auto* tap = std::get_if<TapNetwork>(&network); tap && tap->static_address) return &*tap->static_address;
  if (auto* vnic = std::get_if<VnicNetwork>(&network); vnic && vnic->static_address) return &*vnic->static_address;
  return nullptr;
}

std::string address_ip(std::string_view address) {
  return std::string(address.substr(0, address.rfind('/')));
}

}  // namespace vm_manager
