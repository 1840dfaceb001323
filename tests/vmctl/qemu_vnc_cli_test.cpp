// vmctl vnc and create --vnc tcp with the QEMU backend, booting the tiny
// guest under TCG.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>

#include <gmock/gmock.h>

#include "support/file_search.hpp"
#include "vmctl/qemu_cli_fixture.hpp"

namespace vmctl::test {
namespace {

using ::testing::HasSubstr;

TEST_F(QemuCliTest, VncShowsTheUnixSocketAndHowToReachIt) {
  auto args = create_args("vncsock");
  args.push_back("--start");
  std::string created = ok(args);
  EXPECT_EQ(created.find("password"), std::string::npos) << created;
  const std::string socket = (data_.path() / "vms" / "vncsock" / "vnc.sock").string();

  nlohmann::json j = nlohmann::json::parse(ok({"vnc", "vncsock", "--json"}));
  EXPECT_EQ(j.at("name"), "vncsock");
  EXPECT_EQ(j.at("vnc"), "unix:" + socket);
  EXPECT_EQ(j.at("vnc"), status("vncsock").at("vnc")) << "the endpoint status shows";
  EXPECT_EQ(j.at("transport"), "unix");
  EXPECT_EQ(j.at("path"), socket);
  EXPECT_EQ(j.at("password"), false);
  EXPECT_EQ(j.at("local_forward"), "socat TCP-LISTEN:5901,bind=127.0.0.1,reuseaddr UNIX-CONNECT:" + socket);
  EXPECT_EQ(j.at("ssh_forward"), "ssh -L 5901:" + socket + " USER@HOST");

  std::string text = ok({"vnc", "vncsock"});
  EXPECT_THAT(text, HasSubstr("VM 'vncsock': VNC on the unix socket " + socket + "\n"));
  EXPECT_THAT(text, HasSubstr("  socat TCP-LISTEN:5901,bind=127.0.0.1,reuseaddr UNIX-CONNECT:" + socket + "\n"));
  EXPECT_THAT(text, HasSubstr("  ssh -L 5901:" + socket + " USER@HOST\n"));

  ok({"stop", "vncsock", "--force"});
  ProcessResult stopped = vmctl({"vnc", "vncsock"});
  EXPECT_EQ(stopped.exit_code, 1) << stopped.err;
  EXPECT_EQ(stopped.err.rfind("error[vm_manager::vm::invalid_state]: ", 0), 0u) << stopped.err;
}

TEST_F(QemuCliTest, ATcpVncPrintsItsPasswordOnceAndKeepsItNowhere) {
  auto args = create_args("vnctcp");
  args.insert(args.end(), {"--vnc", "tcp", "--start"});
  std::string created = ok(args);
  const std::regex shown("VNC (127\\.0\\.0\\.1:59[0-9][0-9]), password ([A-Za-z0-9]{8}) \\(shown once\\)\n");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(created, m, shown)) << created;
  const std::string address = m[1];
  const std::string password = m[2];

  EXPECT_EQ(status("vnctcp").at("vnc"), address);
  nlohmann::json j = nlohmann::json::parse(ok({"vnc", "vnctcp", "--json"}));
  EXPECT_EQ(j.at("vnc"), address);
  EXPECT_EQ(j.at("transport"), "tcp");
  EXPECT_EQ(j.at("address"), address);
  EXPECT_EQ(j.at("password"), true);
  std::string text = ok({"vnc", "vnctcp"});
  EXPECT_THAT(text, HasSubstr("VM 'vnctcp': VNC on " + address + ", with the password shown when it started"));
  EXPECT_EQ(text.find(password), std::string::npos) << "vmctl vnc cannot know it";
  EXPECT_FALSE(some_file_contains(data_.path(), password)) << "the password reached a file";

  // Each start sets a new one, shown by start (also under --quiet: it
  // cannot be had again).
  ok({"stop", "vnctcp", "--force"});
  std::string restarted = ok({"--quiet", "start", "vnctcp"});
  ASSERT_TRUE(std::regex_search(restarted, m, shown)) << restarted;
  EXPECT_NE(m[2], password);
  EXPECT_FALSE(some_file_contains(data_.path(), m[2])) << "the password reached a file";
}

}  // namespace
}  // namespace vmctl::test
