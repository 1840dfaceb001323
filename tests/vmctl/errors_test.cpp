// Every user error: the right exit status, `error[code]: message` and a hint.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>

#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

using ::testing::HasSubstr;

// Exit 1 with the given stable code, a one-line message and a help line.
void expect_error(const ProcessResult& r, const std::string& code) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out, "");
  std::string prefix = "error[" + code + "]: ";
  ASSERT_EQ(r.err.rfind(prefix, 0), 0u) << r.err;
  auto first_newline = r.err.find('\n');
  ASSERT_NE(first_newline, std::string::npos);
  EXPECT_EQ(r.err.substr(first_newline + 1, 8), "  help: ") << r.err;
}

// The third line vmctl adds to a library error: the vmctl command that
// applies the library's plain-words help (src/vmctl/hints.cpp).
std::string try_line(const ProcessResult& r) {
  auto at = r.err.find("\n  try: ");
  if (at == std::string::npos) return "(no try line)";
  return r.err.substr(at + 1, r.err.find('\n', at + 1) - at - 1);
}

TEST_F(VmctlTest, LibraryErrorsGetTheVmctlCommandAsAHint) {
  ok({"create", "--name", "web", "--backend", "noop"});
  ProcessResult resume = vmctl({"resume", "web"});
  expect_error(resume, "vm_manager::vm::invalid_state");
  EXPECT_EQ(try_line(resume), "  try: start it with 'vmctl start web'") << resume.err;

  ProcessResult missing = vmctl({"status", "nope"});
  expect_error(missing, "vm_manager::vm::not_found");
  EXPECT_THAT(try_line(missing), HasSubstr("'vmctl create --name nope'")) << missing.err;

  ProcessResult backend = vmctl({"create", "--name", "p", "--backend", "propolis"});
  expect_error(backend, "vm_manager::backend::not_available");
  EXPECT_EQ(try_line(backend), "  try: choose another --backend") << backend.err;

  std::ofstream(data_ / "vms" / "web" / "vm.json", std::ios::trunc) << "{ not json";
  ProcessResult corrupt = vmctl({"status", "web"});
  expect_error(corrupt, "vm_manager::store::corrupt");
  EXPECT_EQ(try_line(corrupt), "  try: 'vmctl destroy web' removes it") << corrupt.err;
}

TEST_F(VmctlTest, LibraryHelpNamesNoVmctlSyntaxButTheHintDoes) {
  ProcessResult r = vmctl({"create", "--name", "web", "--backend", "noop", "--image", "/nonexistent/disk.qcow2"});
  expect_error(r, "vm_manager::spec::invalid");
  std::string help = r.err.substr(r.err.find("  help: "));
  help = help.substr(0, help.find('\n'));
  EXPECT_EQ(help.find("--"), std::string::npos) << help;
  EXPECT_EQ(help.find("vmctl "), std::string::npos) << help;
  EXPECT_THAT(try_line(r), HasSubstr("--image")) << r.err;
}

TEST_F(VmctlTest, ErrorsOfVmctlItselfNameTheirFlagsAndGetNoSecondHint) {
  ProcessResult r = vmctl({"create", "--name", "web", "--backend", "noop", "--network", "user", "--bridge", "br0"});
  expect_error(r, "vm_manager::spec::invalid");
  EXPECT_THAT(r.err, HasSubstr("  help: add --network tap, or drop --bridge\n"));
  EXPECT_EQ(try_line(r), "(no try line)") << r.err;
  // create checks the name itself, before the library would.
  ok({"create", "--name", "web", "--backend", "noop"});
  ProcessResult exists = vmctl({"create", "--name", "web", "--backend", "noop"});
  expect_error(exists, "vm_manager::vm::already_exists");
  EXPECT_THAT(exists.err, HasSubstr("  help: choose another name, or remove it first with 'vmctl destroy web'\n"));
  EXPECT_EQ(try_line(exists), "(no try line)") << exists.err;
}

TEST_F(VmctlTest, InvalidTransitionsAreRefused) {
  ok({"create", "--name", "web", "--backend", "noop"});
  expect_error(vmctl({"resume", "web"}), "vm_manager::vm::invalid_state");
  expect_error(vmctl({"suspend", "web"}), "vm_manager::vm::invalid_state");
  ok({"start", "web"});
  ok({"stop", "web"});
  expect_error(vmctl({"resume", "web"}), "vm_manager::vm::invalid_state");
  expect_error(vmctl({"suspend", "web"}), "vm_manager::vm::invalid_state");
  ok({"start", "web"});
  ok({"suspend", "web"});
  expect_error(vmctl({"start", "web"}), "vm_manager::vm::invalid_state");
  EXPECT_EQ(state_of("web"), "suspended");  // a refused command changes nothing
  ok({"destroy", "web"});
  expect_error(vmctl({"start", "web"}), "vm_manager::vm::not_found");
  expect_error(vmctl({"destroy", "web"}), "vm_manager::vm::not_found");
  expect_error(vmctl({"status", "web"}), "vm_manager::vm::not_found");
}

TEST_F(VmctlTest, CreateOfAnExistingNameFails) {
  ok({"create", "--name", "web", "--backend", "noop", "--start"});
  expect_error(vmctl({"create", "--name", "web", "--backend", "noop"}), "vm_manager::vm::already_exists");
  EXPECT_EQ(state_of("web"), "running");  // the existing VM is untouched
}

class InvalidNameTest : public VmctlTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(InvalidNameTest, IsRefusedBeforeTouchingTheDisk) {
  for (const char* command : {"create", "start", "destroy"}) {
    std::vector<std::string> args{command};
    if (std::string(command) == "create") {
      args.insert(args.end(), {"--backend", "noop", "--name=" + GetParam()});
    } else {
      args.insert(args.end(), {"--", GetParam()});
    }
    expect_error(vmctl(args), "vm_manager::vm::invalid_name");
  }
  EXPECT_TRUE(std::filesystem::is_empty(data_.path())) << "nothing may be written for an invalid name";
}

INSTANTIATE_TEST_SUITE_P(Names, InvalidNameTest,
                         ::testing::Values("..", "/", "a/b", "-x", "a,b", "a b", ".", std::string(300, 'a'),
                                           std::string(64, 'a'), "../../etc"));

TEST_F(VmctlTest, EmptyNameIsRefused) {
  expect_error(vmctl({"create", "--backend", "noop", "--name", ""}), "vm_manager::vm::invalid_name");
}

TEST_F(VmctlTest, UnavailableBackendsSayWhy) {
  expect_error(vmctl({"create", "--name", "p", "--backend", "propolis"}), "vm_manager::backend::not_available");
  EXPECT_TRUE(list().empty()) << "a failed create leaves no VM behind";
  EXPECT_FALSE(std::filesystem::exists(data_ / "locks" / "p.lock"));
}

TEST_F(VmctlTest, MissingImageIsAClearError) {
  expect_error(vmctl({"create", "--name", "web", "--backend", "noop", "--image", "/nonexistent/disk.qcow2"}),
               "vm_manager::spec::invalid");
}

TEST_F(VmctlTest, OptionsThatDoNotApplyAreRefused) {
  expect_error(vmctl({"create", "--name", "web", "--backend", "noop", "--network", "user", "--bridge", "br0"}),
               "vm_manager::spec::invalid");
  expect_error(vmctl({"create", "--name", "web", "--backend", "noop", "--network", "none", "--bridge", "br0"}),
               "vm_manager::spec::invalid");
  EXPECT_TRUE(list().empty());
}

// As in the first vmctl: a bridge says the network is TAP.
TEST_F(VmctlTest, BridgeAloneMeansTapNetworking) {
  ok({"create", "--name", "web", "--backend", "noop", "--bridge", "br0"});
  ok({"create", "--name", "both", "--backend", "noop", "--network", "tap", "--bridge", "br0"});
  for (const char* name : {"web", "both"}) {
    std::ifstream record(data_ / "vms" / name / "vm.json");
    const nlohmann::json network = nlohmann::json::parse(record).at("spec").at("network");
    EXPECT_EQ(network.at("mode"), "tap") << network.dump();
    EXPECT_EQ(network.at("bridge"), "br0") << network.dump();
  }
}

// --ip and its companions: each misuse is refused with why, before anything is made.
TEST_F(VmctlTest, StaticAddressFlagsAreChecked) {
  const std::vector<std::string> create = {"create", "--name", "web", "--backend", "noop"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = create;
    args.insert(args.end(), extra.begin(), extra.end());
    return vmctl(args);
  };
  ProcessResult user = with({"--ip", "10.0.0.5/24"});
  expect_error(user, "vm_manager::spec::invalid");
  EXPECT_THAT(user.err, HasSubstr("--ip needs --network tap or vnic: with user networking QEMU gives the guest"));
  EXPECT_THAT(user.err, HasSubstr("  help: add --network tap (or vnic), or drop --ip\n"));
  EXPECT_EQ(try_line(user), "(no try line)") << user.err;
  ProcessResult none = with({"--network", "none", "--ip", "10.0.0.5/24"});
  expect_error(none, "vm_manager::spec::invalid");
  EXPECT_THAT(none.err, HasSubstr("a VM with --network none has no NIC"));
  for (const auto& extra : std::vector<std::vector<std::string>>{{"--network", "tap", "--gateway", "10.0.0.1"},
                                                                 {"--network", "vnic", "--dns", "10.0.0.1"}}) {
    ProcessResult alone = with(extra);
    expect_error(alone, "vm_manager::spec::invalid");
    EXPECT_THAT(alone.err, HasSubstr("--gateway and --dns need --ip")) << alone.err;
  }
  // What the library's validate_spec refuses gets the flag as its try line.
  ProcessResult no_prefix = with({"--network", "tap", "--bridge", "br0", "--ip", "10.0.0.5"});
  expect_error(no_prefix, "vm_manager::spec::invalid");
  EXPECT_THAT(no_prefix.err, HasSubstr("the static address '10.0.0.5' is not ADDRESS/PREFIX"));
  EXPECT_THAT(try_line(no_prefix), HasSubstr("--ip ADDR/PREFIX")) << no_prefix.err;
  ProcessResult mixed = with({"--network", "tap", "--ip", "10.0.0.5/24", "--gateway", "fd00::1"});
  expect_error(mixed, "vm_manager::spec::invalid");
  EXPECT_THAT(mixed.err, HasSubstr("not of the same IP version"));
  EXPECT_THAT(try_line(mixed), HasSubstr("--gateway")) << mixed.err;
  ProcessResult bad_dns = with({"--network", "tap", "--ip", "10.0.0.5/24", "--dns", "ns1.example"});
  expect_error(bad_dns, "vm_manager::spec::invalid");
  EXPECT_THAT(try_line(bad_dns), HasSubstr("--dns")) << bad_dns.err;
  ProcessResult many = with({"--network", "tap", "--ip", "10.0.0.5/24", "--dns", "10.0.0.1", "--dns", "10.0.0.2",
                             "--dns", "10.0.0.3", "--dns", "10.0.0.4"});
  expect_error(many, "vm_manager::spec::invalid");
  EXPECT_THAT(many.err, HasSubstr("4 name servers given"));
  EXPECT_TRUE(list().empty()) << "a refused create leaves no VM behind";

  // All of it together is kept in the VM's record.
  ok({"create", "--name", "web", "--backend", "noop", "--network", "tap", "--bridge", "br0", "--ip", "fd00::5/64",
      "--gateway", "fd00::1", "--dns", "fd00::53", "--dns", "10.0.0.53"});
  std::ifstream record(data_ / "vms" / "web" / "vm.json");
  const nlohmann::json vm = nlohmann::json::parse(record);
  EXPECT_EQ(vm.at("spec").at("network").at("static"),
            nlohmann::json({{"address", "fd00::5/64"}, {"gateway", "fd00::1"}, {"dns", {"fd00::53", "10.0.0.53"}}}))
      << vm.dump(2);
}

TEST_F(VmctlTest, UsageErrorsExitWithTwo) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {},
           {"frobnicate"},
           {"create"},
           {"create", "--name", "x", "--vcpus", "0"},
           {"create", "--name", "x", "--vcpus", "many"},
           {"create", "--name", "x", "--backend", "xen"},
           {"create", "--name", "x", "--network", "wifi"},
           {"stop"},
           {"stop", "x", "--timeout", "-1"},
       }) {
    ProcessResult r = vmctl(args);
    EXPECT_EQ(r.exit_code, 2) << join(args) << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("error[vmctl::usage]: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("  help: "), std::string::npos) << r.err;
  }
}

TEST_F(VmctlTest, UnknownCommandsAreNamedWithTheNearestOne) {
  ProcessResult typo = vmctl({"lsit", "--json"});
  EXPECT_EQ(typo.exit_code, 2) << typo.err;
  EXPECT_EQ(typo.err, "error[vmctl::usage]: unknown command 'lsit'\n"
                      "  help: did you mean 'vmctl list'? 'vmctl --help' lists the commands\n");
  ProcessResult unknown = vmctl({"-q", "frobnicate"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.err;
  EXPECT_EQ(unknown.err, "error[vmctl::usage]: unknown command 'frobnicate'\n"
                         "  help: 'vmctl --help' lists the commands\n");
}

TEST_F(VmctlTest, CorruptRecordIsReportedNotHidden) {
  ok({"create", "--name", "web", "--backend", "noop"});
  {
    std::FILE* f = std::fopen((data_ / "vms" / "web" / "vm.json").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("{ not json", f);
    std::fclose(f);
  }
  expect_error(vmctl({"status", "web"}), "vm_manager::store::corrupt");
  nlohmann::json all = list();  // the listing still works and shows the problem
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].at("state"), "failed");
  EXPECT_FALSE(all[0].at("problem").is_null());
}

TEST_F(VmctlTest, DestroyRemovesAVmWhoseRecordIsCorruptWhateverTheDamage) {
  const std::vector<std::pair<std::string, std::string>> damages{
      {"truncated", R"({"format": 1, "handle": {"name": "web", "backe)"},
      {"empty", ""},
      {"not JSON", "\x7f\x45\x4c\x46 garbage"},
      {"JSON of the wrong shape", R"({"format": 1, "handle": 5, "spec": []})"},
      {"a JSON array", "[1, 2, 3]"},
  };
  for (const auto& [what, text] : damages) {
    SCOPED_TRACE(what);
    ok({"create", "--name", "web", "--backend", "noop", "--start"});
    std::ofstream(data_ / "vms" / "web" / "vm.json", std::ios::trunc) << text;
    expect_error(vmctl({"status", "web"}), "vm_manager::store::corrupt");
    std::string out = ok({"destroy", "web"});
    EXPECT_NE(out.find("Destroyed VM 'web'"), std::string::npos) << out;
    EXPECT_FALSE(std::filesystem::exists(data_ / "vms" / "web"));
    EXPECT_TRUE(list().empty());
  }
}

TEST_F(VmctlTest, DestroyClearsTheRemainsOfACrashedCreate) {
  std::filesystem::create_directories(data_ / "vms" / "half");
  nlohmann::json all = list();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].at("state"), "failed");
  ok({"destroy", "half"});
  EXPECT_FALSE(std::filesystem::exists(data_ / "vms" / "half"));
}

TEST_F(VmctlTest, LockTimeoutIsAClearError) {
  ok({"create", "--name", "web", "--backend", "noop"});
  ProcessOptions options;
  options.env["VMCTL_LOCK_TIMEOUT"] = "soon";
  ProcessResult r = run_vmctl(data_.str(), {"start", "web"}, options);
  expect_error(r, "vm_manager::spec::invalid");
}

}  // namespace
}  // namespace vmctl::test
