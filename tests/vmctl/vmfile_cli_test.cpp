// vmctl validate/up/down/reload/provision with a VMFile of three tiny
// guests, brought up in parallel under QEMU/TCG.
#include <fstream>
#include <regex>

#include "os/files.hpp"
#include "vmctl/qemu_cli_fixture.hpp"

namespace vmctl::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class VmfileCliTest : public QemuCliTest {
 protected:
  // One tiny guest; `extra` goes inside its vm block.
  std::string vm_block(const std::string& name, const std::string& extra, int memory = 192) {
    TinyGuest guest = TinyGuest::locate();
    return "vm \"" + name + "\" {\n" +                                  //
           "    image \"" + guest.disk.string() + "\"\n" +                //
           "    kernel \"" + guest.kernel.string() + "\"\n" +             //
           "    initrd \"" + guest.initrd.string() + "\"\n" +             //
           "    cmdline \"console=ttyS0 panic=-1\"\n" +                   //
           "    memory " + std::to_string(memory) + "\n" + extra + "}\n";
  }

  void write_vmfile(const std::string& text) { std::ofstream(vmfile_) << text; }

  ProcessResult run(std::vector<std::string> args) {
    args.insert(args.end(), {"--file", vmfile_.string()});
    ProcessOptions options;
    options.timeout = 400s;
    return run_vmctl(data_.str(), args, options);
  }

  // The RESULT column of the summary row of `vm`.
  static std::string result_of(const std::string& out, const std::string& vm) {
    std::smatch m;
    std::regex row("\\n" + vm + " +([a-z][a-z, ]*?)  ");
    return std::regex_search(out, m, row) ? m[1].str() : "<no row for " + vm + ">";
  }

  std::string three_vms(int memory_of_b = 192) {
    const std::string provision =
        "    provision \"shell\" { inline \"echo hello from $(hostname)\"; }\n"
        "    provision \"file\" { source \"note.txt\"; destination \"/tmp/sub/note.txt\"; }\n"
        "    provision \"shell\" { script \"setup.sh\"; }\n";
    return vm_block("a", provision) + vm_block("b", provision, memory_of_b) + vm_block("c", provision);
  }

  void SetUp() override {
    std::ofstream(data_ / "note.txt") << "a note\n";
    std::ofstream(data_ / "setup.sh") << "#!/bin/sh\necho script ran > /tmp/script-ran\n";
  }

  fs::path vmfile_ = data_ / "VMFile.kdl";
};

TEST_F(VmfileCliTest, UpProvisionDownReloadWithThreeVmsInParallel) {
  write_vmfile(three_vms());
  ProcessResult valid = run({"validate"});
  EXPECT_EQ(valid.exit_code, 0) << valid.err;
  EXPECT_NE(valid.out.find("3 VMs: a, b, c"), std::string::npos) << valid.out;

  ProcessResult up = run({"up"});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  for (const char* vm : {"a", "b", "c"}) {
    EXPECT_EQ(result_of(up.out, vm), "created, provisioned") << up.out;
    EXPECT_NE(up.out.find(std::string(vm) + " | hello from " + vm), std::string::npos) << up.out;
    EXPECT_EQ(state_of(vm), "running");
    ProcessResult files = vmctl({"ssh", vm, "--", "cat", "/tmp/sub/note.txt", "/tmp/script-ran"});
    EXPECT_EQ(files.out, "a note\nscript ran\n") << files.err;
    std::string log = vm_manager::os::read_file(data_ / "vms" / vm / "provision.log").value_or("");
    EXPECT_NE(log.find("hello from"), std::string::npos) << log;
  }

  ProcessResult again = run({"up"});
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_EQ(result_of(again.out, "a"), "running") << again.out;
  EXPECT_EQ(again.out.find("hello from"), std::string::npos) << "running VMs are not provisioned again";

  write_vmfile(three_vms(256));
  ProcessResult drifted = run({"up"});
  EXPECT_EQ(drifted.exit_code, 0) << drifted.out << drifted.err;
  EXPECT_EQ(result_of(drifted.out, "b"), "running, drifted") << drifted.out;
  EXPECT_NE(drifted.out.find("b | drifted from its definition (memory 192 MB -> 256 MB); stopping the VM lets up "
                             "apply it in place"),
            std::string::npos)
      << drifted.out;
  EXPECT_EQ(result_of(drifted.out, "a"), "running");

  ProcessResult provisioned = run({"provision"});
  EXPECT_EQ(provisioned.exit_code, 0) << provisioned.out << provisioned.err;
  for (const char* vm : {"a", "b", "c"}) {
    EXPECT_NE(provisioned.out.find(std::string(vm) + " | hello from " + vm), std::string::npos) << provisioned.out;
    EXPECT_EQ(result_of(provisioned.out, vm), "provisioned") << provisioned.out;
  }
  ProcessResult one = run({"provision", "--name", "c"});
  EXPECT_EQ(one.exit_code, 0) << one.out << one.err;
  EXPECT_NE(one.out.find("c | hello from c"), std::string::npos) << one.out;
  EXPECT_EQ(one.out.find("a | hello from a"), std::string::npos) << "--name provisions only that VM: " << one.out;

  ProcessResult down = run({"down", "--jobs", "2"});
  EXPECT_EQ(down.exit_code, 0) << down.out << down.err;
  for (const char* vm : {"a", "b", "c"}) EXPECT_EQ(state_of(vm), "stopped");
  ProcessResult restarted = run({"up", "--name", "a"});
  EXPECT_EQ(result_of(restarted.out, "a"), "started") << restarted.out;
  EXPECT_EQ(state_of("b"), "stopped") << "--name touches only that VM";

  // Only b's memory drifted: reload resizes it in place (its folder, with
  // the provision.log, stays) rather than recreating it.
  ProcessResult reload = run({"reload", "--name", "b", "--no-provision"});
  EXPECT_EQ(reload.exit_code, 0) << reload.out << reload.err;
  EXPECT_EQ(result_of(reload.out, "b"), "resized, started") << reload.out;
  EXPECT_NE(reload.out.find("b | resized in place: memory 192 MB -> 256 MB"), std::string::npos) << reload.out;
  EXPECT_EQ(status("b").at("memory_mb"), 256);
  EXPECT_TRUE(fs::exists(data_ / "vms" / "b" / "provision.log")) << "b was recreated";
  auto mem_total_kb = [this](const std::string& vm) {
    std::string line = vmctl({"ssh", vm, "--", "grep", "MemTotal:", "/proc/meminfo"}).out;
    std::string digits;
    for (char c : line) if (c >= '0' && c <= '9') digits += c;
    return digits.empty() ? 0ull : std::stoull(digits);
  };
  EXPECT_GT(mem_total_kb("b"), mem_total_kb("a") + 48 * 1024) << "b has 64 MB more than a";

  ProcessResult destroyed = run({"down", "--destroy"});
  EXPECT_EQ(destroyed.exit_code, 0) << destroyed.out << destroyed.err;
  EXPECT_TRUE(list().empty());
}

// The example that `make demo` runs, copied with a guest cache where its
// relative paths expect one, used as a user would: from its folder, with no
// --file. Output lines are prefixed with names padded to the longest.
TEST_F(VmfileCliTest, TheExampleComesUpWithoutProvisioningThenReloadsAllThree) {
  const fs::path project = data_ / "project";
  fs::create_directories(project / "build");
  fs::copy(fs::path(VMCTL_SOURCE_DIR) / "examples", project / "examples", fs::copy_options::recursive);
  fs::create_directory_symlink(TinyGuest::locate().disk.parent_path(), project / "build" / "guest-cache");
  fs::create_directories(project / "build" / "demo-shared");  // the db VM's shared folder, as make demo makes it
  ProcessOptions in_folder;
  in_folder.cwd = (project / "examples").string();
  in_folder.timeout = 400s;
  auto here = [&](const std::vector<std::string>& args) { return run_vmctl(data_.str(), args, in_folder); };

  ProcessResult valid = here({"validate"});
  EXPECT_EQ(valid.exit_code, 0) << valid.out << valid.err;
  EXPECT_NE(valid.out.find("3 VMs: web, db, cache"), std::string::npos) << valid.out;

  ProcessResult up = here({"up", "--no-provision"});
  ASSERT_EQ(up.exit_code, 0) << up.out << up.err;
  for (const char* vm : {"web", "db", "cache"}) EXPECT_EQ(result_of(up.out, vm), "created") << up.out;
  EXPECT_EQ(up.out.find("db ready"), std::string::npos) << "--no-provision ran a provisioner: " << up.out;
  EXPECT_EQ(vmctl({"ssh", "cache", "--", "hostname"}).out, "cache-1\n");

  ProcessResult reload = here({"reload"});
  ASSERT_EQ(reload.exit_code, 0) << reload.out << reload.err;
  EXPECT_EQ(result_of(reload.out, "web"), "recreated, provisioned") << reload.out;
  EXPECT_EQ(result_of(reload.out, "db"), "recreated, provisioned") << reload.out;
  EXPECT_EQ(result_of(reload.out, "cache"), "recreated") << reload.out;
  EXPECT_NE(reload.out.find("db    | db ready: created by setup-db.sh as dba"), std::string::npos) << reload.out;
  EXPECT_NE(reload.out.find("web   | web is serving"), std::string::npos) << reload.out;
  ProcessResult page = vmctl({"ssh", "web", "--", "cat", "/tmp/www/index.html"});
  EXPECT_EQ(page.out, vm_manager::os::read_file(project / "examples/demo-files/index.html").value_or("?"))
      << page.err;
  // The same page from the host, through web's `forward host=18080 guest=8000`.
  ProcessResult fetched = run_process({"curl", "-sS", "--max-time", "60", "http://127.0.0.1:18080/"});
  EXPECT_EQ(fetched.out, page.out) << fetched.err;

  ProcessResult destroyed = here({"down", "--destroy"});
  EXPECT_EQ(destroyed.exit_code, 0) << destroyed.out << destroyed.err;
  EXPECT_TRUE(list().empty());
}

TEST_F(VmfileCliTest, AFailingVmFailsTheCommandButTheOthersFinish) {
  write_vmfile(vm_block("ok1", "") +
               vm_block("broken", "    provision \"shell\" { inline \"echo about to fail; exit 3\"; }\n") +
               vm_block("ok2", ""));
  ProcessResult up = run({"up"});
  EXPECT_EQ(up.exit_code, 1);
  EXPECT_EQ(result_of(up.out, "ok1"), "created") << up.out;
  EXPECT_EQ(result_of(up.out, "ok2"), "created") << up.out;
  EXPECT_EQ(result_of(up.out, "broken"), "failed") << up.out;
  EXPECT_NE(up.out.find("broken | about to fail"), std::string::npos) << up.out;
  EXPECT_NE(up.err.find("error[vm_manager::vmfile::apply_failed]: 1 of 3 VMs failed: broken"), std::string::npos)
      << up.err;
  EXPECT_EQ(state_of("ok1"), "running");
}

TEST_F(VmfileCliTest, ErrorsInTheFileAreShownWithTheirPlace) {
  write_vmfile("vm \"x\" {\n    image \"/nonexistent.qcow2\"\n    memroy 512\n}\n");
  ProcessResult r = run({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error[vm_manager::vmfile::invalid]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(":3:5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("memory"), std::string::npos) << "did you mean: " << r.err;
  EXPECT_NE(r.err.find("nonexistent.qcow2"), std::string::npos) << "every problem is reported: " << r.err;

  write_vmfile("vm \"x\" {\n  image \"a\" \"b\n}\n");
  ProcessResult syntax = run({"validate"});
  EXPECT_NE(syntax.err.find("error[vm_manager::vmfile::syntax]"), std::string::npos) << syntax.err;
  EXPECT_NE(syntax.err.find("^"), std::string::npos) << "a caret under the place: " << syntax.err;

  fs::remove(vmfile_);
  ProcessResult missing = run({"up"});
  EXPECT_NE(missing.err.find("error[vm_manager::vmfile::not_found]"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace vmctl::test
