// validate_port_forwards and the text of a forward (spec_check.hpp).
#include <gtest/gtest.h>

#include "core/handle_from_spec.hpp"
#include "support/error_from.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager {
namespace {

using vmctl::test::error_from;

PortForward forward(std::uint16_t host, std::uint16_t guest, PortProtocol protocol = PortProtocol::tcp,
                    std::string address = "127.0.0.1") {
  return PortForward{std::move(address), host, guest, protocol};
}

TEST(PortForwardCheck, UserNetworkTakesForwardsOnAnyIpv4Address) {
  EXPECT_NO_THROW(validate_port_forwards({forward(8080, 80), forward(5353, 53, PortProtocol::udp, "0.0.0.0"),
                                          forward(2222, 22, PortProtocol::tcp, "192.168.1.7")},
                                         UserNetwork{}));
  EXPECT_NO_THROW(validate_port_forwards({}, TapNetwork{"br0"}));
}

TEST(PortForwardCheck, TheSameHostPortTwiceIsRefusedWhateverTheAddress) {
  Error e = error_from([] {
    validate_port_forwards({forward(8080, 80), forward(8080, 81, PortProtocol::tcp, "0.0.0.0")}, UserNetwork{});
  });
  EXPECT_EQ(e.code(), errc::port_invalid);
  EXPECT_NE(e.message().find("127.0.0.1:8080->80/tcp"), std::string::npos) << e.message();
  EXPECT_NE(e.message().find("0.0.0.0:8080->81/tcp"), std::string::npos) << e.message();
  // A port is one per protocol: TCP and UDP 53 are two forwards.
  EXPECT_NO_THROW(validate_port_forwards({forward(53, 53), forward(53, 53, PortProtocol::udp)}, UserNetwork{}));
}

TEST(PortForwardCheck, PortZeroAndAddressesThatAreNotIpv4AreRefused) {
  for (const PortForward& bad : {forward(0, 80), forward(8080, 0), forward(8080, 80, PortProtocol::tcp, "::1"),
                                 forward(8080, 80, PortProtocol::tcp, "localhost"),
                                 forward(8080, 80, PortProtocol::tcp, "127.0.0.1,hostfwd=tcp::1-:2"),
                                 forward(8080, 80, PortProtocol::tcp, "")}) {
    Error e = error_from([&] { validate_port_forwards({bad}, UserNetwork{}); });
    EXPECT_EQ(e.code(), errc::port_invalid) << bad.host_address << " " << bad.host_port << " " << bad.guest_port;
    EXPECT_FALSE(e.help().empty());
  }
}

TEST(PortForwardCheck, NetworksWithoutForwardingSayWhy) {
  const std::vector<PortForward> one = {forward(8080, 80)};
  for (const auto& [network, why] : std::vector<std::pair<NetworkConfig, std::string>>{
           {TapNetwork{"br0"}, "TAP network"}, {VnicNetwork{"vnic0"}, "VNIC"}, {NoNetwork{}, "no network"}}) {
    Error e = error_from([&] { validate_port_forwards(one, network); });
    EXPECT_EQ(e.code(), errc::port_unsupported);
    EXPECT_NE(e.message().find(why), std::string::npos) << e.message();
  }
}

TEST(PortForwardCheck, ValidateSpecChecksTheForwards) {
  VmSpec spec;
  spec.name = "web";
  spec.network = NoNetwork{};
  spec.port_forwards = {forward(8080, 80)};
  EXPECT_EQ(error_from([&] { validate_spec(spec); }).code(), errc::port_unsupported);
}

TEST(PortForwardCheck, TextAndLoopback) {
  EXPECT_EQ(port_forward_text(forward(5353, 53, PortProtocol::udp, "0.0.0.0")), "0.0.0.0:5353->53/udp");
  EXPECT_TRUE(forward_is_loopback_only(forward(1, 1)));
  EXPECT_TRUE(forward_is_loopback_only(forward(1, 1, PortProtocol::tcp, "127.0.0.2")));
  EXPECT_FALSE(forward_is_loopback_only(forward(1, 1, PortProtocol::tcp, "0.0.0.0")));
  EXPECT_FALSE(forward_is_loopback_only(forward(1, 1, PortProtocol::tcp, "192.168.1.7")));
}

TEST(PortForwardCheck, HandlesGainAndLoseForwardsByPortAndProtocol) {
  VmSpec spec;
  spec.name = "web";
  spec.port_forwards = {forward(8080, 80)};
  VmHandle h = handle_from_spec(spec, "noop", "/data/vms/web");
  EXPECT_EQ(h.port_forwards, spec.port_forwards);
  h.port_forwards = forwards_with(h, forward(5353, 53, PortProtocol::udp));
  ASSERT_EQ(h.port_forwards.size(), 2u);
  EXPECT_EQ(error_from([&] { forwards_with(h, forward(8080, 81)); }).code(), errc::port_invalid);
  PortForward removed;
  EXPECT_EQ(error_from([&] { forwards_without(h, 5353, PortProtocol::tcp, removed); }).code(), errc::port_not_found);
  h.port_forwards = forwards_without(h, 5353, PortProtocol::udp, removed);
  EXPECT_EQ(removed, forward(5353, 53, PortProtocol::udp));
  EXPECT_EQ(h.port_forwards, std::vector<PortForward>{forward(8080, 80)});
}

}  // namespace
}  // namespace vm_manager
