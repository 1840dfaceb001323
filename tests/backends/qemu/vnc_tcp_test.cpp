// A VM created with VNC on TCP (VncMode::tcp), against real QEMU (TCG)
// booting the tiny guest: its VNC listens on 127.0.0.1 only, offers VNC
// authentication and nothing else, refuses a wrong password and accepts the
// one start returned, which is written to no file.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

// VNC authentication is single DES, which OpenSSL 3 keeps only in its
// deprecated low-level API.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/des.h>

#include <gtest/gtest.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>

#include "backends/qemu/qemu_backend.hpp"
#include "backends/qemu/tiny_guest.hpp"
#include "support/file_search.hpp"
#include "support/temp_dir.hpp"
#include "vm_manager/json.hpp"

namespace vm_manager::qemu {
namespace {

using vmctl::test::some_file_contains;

using namespace std::chrono_literals;
using vmctl::test::tiny_guest_spec;

// A TCP connection to the VM's VNC with a read deadline.
class RfbConnection {
 public:
  explicit RfbConnection(const std::string& address) {
    auto colon = address.rfind(':');
    std::uint16_t port = 0;
    std::from_chars(address.data() + colon + 1, address.data() + address.size(), port);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    ::inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr);
    timeval limit{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RfbConnection() { ::close(fd_); }
  RfbConnection(const RfbConnection&) = delete;
  RfbConnection& operator=(const RfbConnection&) = delete;

  bool connected() const { return connected_; }

  // Exactly n bytes, or fewer when the server closes or the deadline passes.
  std::string read(std::size_t n) {
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n) {
      ssize_t r = ::read(fd_, out.data() + got, n - got);
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    out.resize(got);
    return out;
  }

  void write(const std::string& bytes) { ASSERT_EQ(::write(fd_, bytes.data(), bytes.size()), ssize_t(bytes.size())); }

  std::uint32_t read_u32() {
    std::string b = read(4);
    if (b.size() != 4) return 0xffffffffu;
    return std::uint32_t(std::uint8_t(b[0])) << 24 | std::uint32_t(std::uint8_t(b[1])) << 16 |
           std::uint32_t(std::uint8_t(b[2])) << 8 | std::uint32_t(std::uint8_t(b[3]));
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

// The security types an RFB 3.8 server offers after the version exchange.
std::string offered_security_types(RfbConnection& rfb) {
  EXPECT_EQ(rfb.read(12), "RFB 003.008\n");
  rfb.write("RFB 003.008\n");
  std::string count = rfb.read(1);
  if (count.empty()) return "<closed>";
  return rfb.read(std::uint8_t(count[0]));
}

// VNC authentication's answer to a challenge: the challenge encrypted with
// DES, keyed by the password (8 bytes, zero-padded) with the bits of each
// byte in reverse order, as VNC has always done.
std::string vnc_auth_response(const std::string& challenge, const std::string& password) {
  DES_cblock key{};
  for (std::size_t i = 0; i < 8 && i < password.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(password[i]);
    unsigned char reversed = 0;
    for (int bit = 0; bit < 8; ++bit) reversed = static_cast<unsigned char>(reversed | (((c >> bit) & 1) << (7 - bit)));
    key[i] = reversed;
  }
  DES_key_schedule schedule;
  DES_set_key_unchecked(&key, &schedule);
  std::string response(16, '\0');
  for (std::size_t block = 0; block < 16; block += 8) {
    DES_cblock in;
    DES_cblock out;
    std::copy_n(challenge.begin() + static_cast<std::ptrdiff_t>(block), 8, in);
    DES_ecb_encrypt(&in, &out, &schedule, DES_ENCRYPT);
    std::copy_n(out, 8, response.begin() + static_cast<std::ptrdiff_t>(block));
  }
  return response;
}

// Chooses VNC authentication, answers the challenge with `password` and
// returns the SecurityResult (0: OK, 1: failed).
std::uint32_t authenticate(const std::string& address, const std::string& password) {
  RfbConnection rfb(address);
  if (!rfb.connected()) return 0xfffffffeu;
  EXPECT_EQ(offered_security_types(rfb), std::string(1, '\x02'));
  rfb.write(std::string(1, '\x02'));
  std::string challenge = rfb.read(16);
  EXPECT_EQ(challenge.size(), 16u);
  rfb.write(vnc_auth_response(challenge, password));
  return rfb.read_u32();
}

class VncTcpTest : public ::testing::Test {
 protected:
  VncTcpTest() : backend_(DataDir(dir_.path()), config()) {}

  static QemuConfig config() {
    QemuConfig c;
    c.accel_override = Accel::tcg;
    return c;
  }

  VmHandle start_tcp_vm(const std::string& name) {
    VmSpec spec = tiny_guest_spec(name);
    spec.vnc = VncMode::tcp;
    return vms_.start(vms_.prepare(spec));
  }

  void TearDown() override { vms_.destroy_all(); }

  vmctl::test::TempDir dir_;
  QemuBackend backend_;
  vmctl::test::TrackedVms vms_{backend_};
};

TEST_F(VncTcpTest, ListensOnLoopbackAndStartReturnsThePasswordOnce) {
  VmHandle h = start_tcp_vm("vnctcp");
  ASSERT_TRUE(h.vnc_password.has_value());
  const VncPassword& vnc = *h.vnc_password;
  EXPECT_EQ(vnc.address.rfind("127.0.0.1:59", 0), 0u) << vnc.address;
  EXPECT_EQ(vnc.password.size(), 8u);
  EXPECT_EQ(QemuVm(h).vnc, vnc.address);
  EXPECT_EQ(backend_.describe(h).at("vnc"), vnc.address);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(QemuVm(h).qmp_socket).parent_path() / "vnc.sock"));
  // Not in the handle as it is saved, nor in any file of the VM.
  EXPECT_EQ(nlohmann::json(h).dump().find(vnc.password), std::string::npos);
  EXPECT_FALSE(some_file_contains(h.work_dir, vnc.password));
}

TEST_F(VncTcpTest, OffersOnlyVncAuthenticationAndRefusesAWrongPassword) {
  VmHandle h = start_tcp_vm("vncauth");
  ASSERT_TRUE(h.vnc_password.has_value());
  const std::string& address = h.vnc_password->address;
  {
    RfbConnection rfb(address);
    ASSERT_TRUE(rfb.connected()) << address;
    // Type 2 (VNC authentication) only: never 1 (None).
    EXPECT_EQ(offered_security_types(rfb), std::string(1, '\x02'));
    // A client that asks for None anyway is turned away.
    rfb.write(std::string(1, '\x01'));
    EXPECT_NE(rfb.read_u32(), 0u);
  }
  std::string wrong = h.vnc_password->password;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(authenticate(address, wrong), 1u);
  EXPECT_EQ(authenticate(address, ""), 1u);
  EXPECT_EQ(authenticate(address, h.vnc_password->password), 0u);
}

TEST_F(VncTcpTest, EachStartSetsANewPassword) {
  VmHandle first = start_tcp_vm("vncagain");
  ASSERT_TRUE(first.vnc_password.has_value());
  VmHandle stopped = backend_.stop(first, 0s);
  vms_.remember(stopped);
  VmHandle second = vms_.start(stopped);
  ASSERT_TRUE(second.vnc_password.has_value());
  EXPECT_NE(second.vnc_password->password, first.vnc_password->password);
  EXPECT_EQ(authenticate(second.vnc_password->address, first.vnc_password->password), 1u);
  EXPECT_EQ(authenticate(second.vnc_password->address, second.vnc_password->password), 0u);
}

TEST_F(VncTcpTest, AUnixSocketVmGetsNoPassword) {
  VmHandle h = vms_.start(vms_.prepare(tiny_guest_spec("vncunix")));
  EXPECT_FALSE(h.vnc_password.has_value());
  EXPECT_EQ(QemuVm(h).vnc.rfind("unix:", 0), 0u);
}

}  // namespace
}  // namespace vm_manager::qemu
