// make bench's libvirt group: vmctl start and stop of a libvirt VM against
// virsh start and virsh destroy of the same domain, in one run, alternating
// ours and the floor. The daemon is the real libvirtd, started as the tests
// start it (tests/backends/libvirt/libvirt_host.hpp: its own network
// namespace, pool and network); the guest is the tiny test guest under TCG.
//
// What is timed is each whole command, as a user types it:
//   start  `vmctl start` (a stopped VM to running, its lifecycle event
//          awaited) against `virsh start` (virDomainCreate, returning once
//          libvirt reports the domain running).
//   stop   `vmctl stop --force` (no ACPI grace: destroy, then the stopped
//          event awaited) against `virsh destroy`.
// The target: vmctl is not slower than virsh (a ratio of medians of at most
// 1.05, what run-to-run noise moves a median by here).
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backends/libvirt/libvirt_host.hpp"
#include "bench_common.hpp"
#include "os/process.hpp"

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace vmctl::bench;
using vm_manager::os::run_process;

constexpr double kTarget = 1.05;
constexpr const char* kName = "bench";

struct Setup {
  std::string vmctl;
  fs::path guest;
  fs::path data;
  int runs = 7;
};

std::vector<std::string> vmctl_args(const Setup& s, std::vector<std::string> args) {
  return vmctl_command(s.vmctl, s.data, std::move(args));
}

void vmctl(const Setup& s, std::vector<std::string> args) { run_vmctl(s.vmctl, s.data, std::move(args)); }

std::vector<std::string> virsh_args(const std::string& verb) {
  return {"/usr/bin/virsh", "-q", "-c", vmctl::test::LibvirtHost::local_uri, verb, kName};
}

double timed_vmctl(const Setup& s, std::vector<std::string> args) {
  return timed_process(vmctl_args(s, std::move(args)));
}

void create_tiny(const Setup& s) {
  vmctl(s, {"create", "--backend", "libvirt", "--name", kName, "--image", (s.guest / "disk.qcow2").string(),
            "--kernel", (s.guest / "vmlinuz").string(), "--initrd", (s.guest / "initrd.img").string(), "--append",
            "console=ttyS0 panic=-1", "--memory", "128", "--accel", "tcg"});
}

// Each sample starts from a stopped domain and leaves one behind.
void bench_start(const Setup& s) {
  Paired p = alternate(
      s.runs,
      [&s] {
        double took = timed_vmctl(s, {"start", kName});
        timed_process(virsh_args("destroy"));
        return took;
      },
      [] {
        double took = timed_process(virsh_args("start"));
        timed_process(virsh_args("destroy"));
        return took;
      });
  print_ratio_row("vmctl start vs virsh start", p, kTarget);
}

// Each sample starts from a running domain and leaves a stopped one.
void bench_stop(const Setup& s) {
  Paired p = alternate(
      s.runs,
      [&s] {
        timed_process(virsh_args("start"));
        return timed_vmctl(s, {"stop", "--force", kName});
      },
      [] {
        timed_process(virsh_args("start"));
        return timed_process(virsh_args("destroy"));
      });
  print_ratio_row("vmctl stop --force vs virsh destroy", p, kTarget);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s VMCTL GUEST_CACHE DATA_DIR [RUNS]\n", argv[0]);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Setup s{argv[1], argv[2], argv[3], argc > 4 ? std::atoi(argv[4]) : 7};
  fs::create_directories(s.data);
  int status = 0;
  try {
    vmctl::test::LibvirtHost host;
    std::printf("\nlibvirt: medians of %d runs against libvirtd %s, tiny guest under TCG\n", s.runs,
                vmctl::test::LibvirtHost::local_uri);
    std::printf("%-34s %13s %12s %8s   %-14s\n", "benchmark", "median", "floor", "ratio", "target");
    try {
      create_tiny(s);
      bench_start(s);
      bench_stop(s);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "libvirt bench failed: %s\n%s\n", e.what(), host.log().c_str());
      status = 1;
    }
    // Whatever happened, the VM goes before the daemon does.
    run_process(vmctl_args(s, {"destroy", kName}), 120s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "libvirt bench: cannot run libvirtd: %s\n", e.what());
    status = 1;
  }
  return status;
}
