// vmctl create --publish and vmctl port add|rm|list on the noop backend,
// which records forwards without listening: the CLI's parsing, messages,
// warnings and JSON. tests/vmctl/port_forward_cli_test.cpp reaches a real
// guest through them.
#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

using nlohmann::json;

json forward(const std::string& address, int host, int guest, const std::string& protocol) {
  return json{{"host_address", address}, {"host_port", host}, {"guest_port", guest}, {"protocol", protocol}};
}

TEST_F(VmctlTest, PublishedPortsAtCreateShowInStatusAndList) {
  ProcessResult created = vmctl({"create", "--name", "web", "--backend", "noop", "--publish", "8080:80",
                                 "--publish", "0.0.0.0:5353:53/udp", "-p", "127.0.0.2:2222:22/tcp"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  // One warning, for the one address other machines can reach.
  EXPECT_EQ(created.err,
            "warning: 0.0.0.0:5353->53/udp listens on 0.0.0.0: other machines can reach the guest's port 53\n");
  json expected = json::array({forward("127.0.0.1", 8080, 80, "tcp"), forward("0.0.0.0", 5353, 53, "udp"),
                               forward("127.0.0.2", 2222, 22, "tcp")});
  EXPECT_EQ(status("web").at("port_forwards"), expected);
  EXPECT_EQ(list().at(0).at("port_forwards"), expected);
  EXPECT_NE(ok({"status", "web"}).find(
                "forwards:   127.0.0.1:8080->80/tcp, 0.0.0.0:5353->53/udp, 127.0.0.2:2222->22/tcp\n"),
            std::string::npos);
  EXPECT_EQ(json::parse(ok({"port", "list", "web", "--json"})), expected);
  EXPECT_EQ(ok({"port", "list", "web"}),
            "ADDRESS    HOST  GUEST  PROTOCOL\n"
            "127.0.0.1  8080  80     tcp\n"
            "0.0.0.0    5353  53     udp\n"
            "127.0.0.2  2222  22     tcp\n");
}

TEST_F(VmctlTest, PortAddAndRmChangeTheRecord) {
  ok({"create", "--name", "web", "--backend", "noop"});
  EXPECT_EQ(status("web").at("port_forwards"), json::array());
  EXPECT_EQ(ok({"port", "add", "web", "8080:80"}), "Published 127.0.0.1:8080->80/tcp for VM 'web' (from its next start)\n");
  ok({"start", "web"});
  ProcessResult added = vmctl({"port", "add", "web", "0.0.0.0:5353:53/udp"});
  EXPECT_EQ(added.exit_code, 0) << added.err;
  EXPECT_EQ(added.out, "Published 0.0.0.0:5353->53/udp for VM 'web'\n");
  EXPECT_NE(added.err.find("warning: 0.0.0.0:5353->53/udp listens on 0.0.0.0"), std::string::npos) << added.err;
  EXPECT_EQ(ok({"port", "rm", "web", "8080"}), "Unpublished port 8080/tcp of VM 'web'\n");
  EXPECT_EQ(status("web").at("port_forwards"), json::array({forward("0.0.0.0", 5353, 53, "udp")}));
  ok({"stop", "web"});
  ok({"start", "web"});
  EXPECT_EQ(status("web").at("port_forwards"), json::array({forward("0.0.0.0", 5353, 53, "udp")}));
  ok({"port", "rm", "web", "5353/udp"});
  EXPECT_EQ(ok({"port", "list", "web"}), "ADDRESS  HOST  GUEST  PROTOCOL\n");
}

TEST_F(VmctlTest, PortMistakesAreClearErrors) {
  ok({"create", "--name", "web", "--backend", "noop", "--publish", "8080:80"});
  struct Case {
    std::vector<std::string> args;
    std::string code;
    std::string text;
  };
  for (const Case& c : std::vector<Case>{
           {{"port", "add", "web", "8080"}, "port::invalid", "'8080' is not a published port"},
           {{"port", "add", "web", "8080:80/sctp"}, "port::invalid", "not a published port"},
           {{"port", "add", "web", "70000:80"}, "port::invalid", "not a published port"},
           {{"port", "add", "web", "localhost:8081:80"}, "port::invalid", "not an IPv4 address"},
           {{"port", "add", "web", "0.0.0.0:8080:81"}, "port::invalid", "use the same host port"},
           {{"port", "rm", "web", "9090"}, "port::not_found", "publishes no port 9090/tcp"},
           {{"port", "list", "nope"}, "vm::not_found", "nope"},
           {{"create", "--name", "t", "--backend", "noop", "--network", "tap", "--bridge", "br0", "--publish",
             "8080:80"},
            "port::unsupported", "TAP network"},
           {{"create", "--name", "n", "--backend", "noop", "--network", "none", "-p", "8080:80"},
            "port::unsupported", "no network"},
       }) {
    ProcessResult r = vmctl(c.args);
    EXPECT_EQ(r.exit_code, 1) << join(c.args) << r.err;
    EXPECT_NE(r.err.find(c.code), std::string::npos) << join(c.args) << r.err;
    EXPECT_NE(r.err.find(c.text), std::string::npos) << join(c.args) << r.err;
  }
  ProcessResult not_found = vmctl({"port", "rm", "web", "9090"});
  EXPECT_NE(not_found.err.find("'vmctl port list web'"), std::string::npos) << not_found.err;
  EXPECT_EQ(list().size(), 1u);
}

}  // namespace
}  // namespace vmctl::test
