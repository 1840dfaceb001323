// make bench: how much vmctl adds on top of QEMU itself.
//
// Start-up first, each whole process (spawn to exit) against a floor timed
// alternately with it in this process, so load from elsewhere falls on both:
//   --version  vmctl --version against /bin/true: <= 3 ms and <= 3x; then
//          where its time goes: the kernel's account (page faults and CPU
//          time, from wait4's rusage) and
//          ld.so's own (LD_DEBUG: objects loaded, start-up cycles,
//          relocations). vmctl needs only libc and libm: the libraries only
//          some commands use are loaded on first use, libstdc++, yaml-cpp,
//          fmt and spdlog are linked in (cmake/startup.cmake), and only the
//          command typed is set up. What is left is mostly the kernel's:
//          exec, mapping and faulting in a larger program, exit.
//   status / suspend / resume  vmctl status NAME --json, suspend NAME and
//          resume NAME on a running tiny guest against qmp_floor
//          (qmp_floor.c: connect, handshake, query-status, stop or cont in
//          plain C): <= 2x each.
// Then against QEMU:
//   start  vmctl start (process start, lock, store, launch, QMP checks)
//          against the floor: the same qemu-system-x86_64 -daemonize command
//          plus the QMP handshake, nothing else.
//   stop   how long vmctl stop takes to return after QEMU has exited (seen
//          through a pidfd), and the floor: QEMU's own exit after "quit".
//   list   vmctl list --json with 50 VMs, 5 of them running: <= 25 ms.
//   ssh readiness  on a booting guest, how long after its sshd first
//          answers (seen by a 2 ms prober) ssh::wait_for_banner notices, and
//          how long until `vmctl start --wait` returns (login included).
//   shared folder  for information: reading a 100 MB file in the guest
//          through a virtiofs mount (first read, then again from the
//          guest's page cache) against reading it from the guest's own
//          tmpfs, each timed by the guest's clock.
//   snapshots  for information: vmctl snapshot create and restore of the
//          tiny guest (128 MB): of the stopped VM (qemu-img, disks only), of
//          the running one with its RAM (QMP snapshot-save / snapshot-load
//          jobs; restored into the stopped VM: QEMU starts, then loads it)
//          and without (one QMP transaction).
// Then the library's waits, which the tests only bound against hangs:
//   timeouts  how late after its deadline a QMP call gives up on a silent
//          QEMU (a socketpair whose other end never greets), and how soon a
//          command waiting for a VM's lock gets it after its holder let go.
//
// Medians over repeated runs; the tiny test guest under TCG.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <future>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench_common.hpp"
#include "backends/qemu/command_line.hpp"
#include "backends/qemu/qmp_client.hpp"
#include "os/proc.hpp"
#include "os/process.hpp"
#include "os/unique_fd.hpp"
#include "ssh/session.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/json.hpp"
#include "vm_manager/store.hpp"

extern char** environ;

namespace {

using namespace vmctl::bench;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::duration<double, std::milli>;
using namespace std::chrono_literals;
using vm_manager::os::run_process;

struct Setup {
  std::string vmctl;
  fs::path guest;
  fs::path data;
  int runs = 7;
  std::string qmp_floor = VMCTL_QMP_FLOOR;
};


std::vector<std::string> vmctl_args(const Setup& s, std::vector<std::string> args) {
  return vmctl_command(s.vmctl, s.data, std::move(args));
}

void vmctl(const Setup& s, std::vector<std::string> args) { run_vmctl(s.vmctl, s.data, std::move(args)); }




pid_t spawn_vmctl(const Setup& s, std::vector<std::string> args) { return spawn(vmctl_args(s, std::move(args))); }

void create_tiny(const Setup& s, const std::string& name) {
  vmctl(s, {"create", "--name", name, "--image", (s.guest / "disk.qcow2").string(), "--kernel",
            (s.guest / "vmlinuz").string(), "--initrd", (s.guest / "initrd.img").string(), "--append",
            "console=ttyS0 panic=-1", "--memory", "128", "--accel", "tcg"});
}

// The VM's handle with its qemu state (pid, sockets) read out.
vm_manager::qemu::QemuVm handle_of(const Setup& s, const std::string& name) {
  // The store knows which of vm.json and run.json holds the pid.
  return vm_manager::qemu::QemuVm(vm_manager::VmStore(vm_manager::DataDir(s.data)).load(name).handle);
}

bool wait_for_console(const vm_manager::qemu::QemuVm& h, const std::string& text) {
  auto deadline = Clock::now() + 120s;
  while (Clock::now() < deadline) {
    std::stringstream content;
    content << std::ifstream(h.console_log).rdbuf();
    if (content.str().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

int pidfd_of(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// The floor: QEMU with the command line vmctl would use, then the QMP handshake.
double floor_start(const Setup& s, const vm_manager::qemu::QemuVm& vm, vm_manager::qemu::QmpClient::Duration timeout) {
  vm_manager::qemu::QemuVm h = vm;
  fs::path dir = s.data / "floor";
  fs::create_directories(dir);
  h.qmp_socket = (dir / "qmp.sock").string();
  h.console_socket = (dir / "console.sock").string();
  h.console_log = (dir / "console.log").string();
  vm_manager::qemu::LaunchPlan plan;
  plan.accel = vm_manager::Accel::tcg;
  plan.pidfile = dir / "qemu.pid";
  plan.ssh_host_port = 0;
  vm_manager::qemu::QemuConfig config;
  auto argv = vm_manager::qemu::qemu_command_line(h, plan, config);

  // As vmctl does: QEMU gets the console log as a descriptor (-add-fd).
  vm_manager::os::UniqueFd console_log(
      ::open(h.console_log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  vm_manager::os::ProcessSpec spec;
  spec.argv = argv;
  spec.child_fds = {{vm_manager::qemu::kConsoleLogFd, console_log.get()}};

  auto begin = Clock::now();
  auto out = run_process(spec, 60s);
  if (!out.ok()) throw std::runtime_error("QEMU failed: " + out.err);
  auto qmp = vm_manager::qemu::QmpClient::connect(h.qmp_socket, timeout);
  double took = Ms(Clock::now() - begin).count();

  std::ifstream pidfile(plan.pidfile);
  pid_t pid = 0;
  pidfile >> pid;
  auto stat = vm_manager::os::read_proc_stat(pid);
  qmp.quit();
  if (stat) vm_manager::os::wait_for_exit(pid, stat->start_time, 10s);
  return took;
}

double timed_vmctl(const Setup& s, std::vector<std::string> args) {
  return timed_process(vmctl_args(s, std::move(args)));
}

struct StopSample {
  double after_exit_ms;  // vmctl's return minus QEMU's exit
};

// Starts vmctl stop, watches QEMU's pidfd and vmctl's exit, both without polling delays.
StopSample measure_stop(const Setup& s, const std::string& name) {
  vm_manager::qemu::QemuVm h = handle_of(s, name);
  int qemu_fd = pidfd_of(static_cast<pid_t>(*h.pid));
  const pid_t child = spawn_vmctl(s, {"stop", name});
  int child_fd = pidfd_of(child);
  Clock::time_point qemu_exit{};
  Clock::time_point vmctl_exit{};
  pollfd fds[2] = {{qemu_fd, POLLIN, 0}, {child_fd, POLLIN, 0}};
  while (qemu_exit == Clock::time_point{} || vmctl_exit == Clock::time_point{}) {
    if (::poll(fds, 2, 60000) <= 0) throw std::runtime_error("stop did not finish");
    auto now = Clock::now();
    if ((fds[0].revents & POLLIN) && qemu_exit == Clock::time_point{}) {
      qemu_exit = now;
      fds[0].fd = -1;
    }
    if ((fds[1].revents & POLLIN) && vmctl_exit == Clock::time_point{}) {
      vmctl_exit = now;
      fds[1].fd = -1;
    }
  }
  ::waitpid(child, nullptr, 0);
  ::close(qemu_fd);
  ::close(child_fd);
  return {Ms(vmctl_exit - qemu_exit).count()};
}

double floor_quit(const Setup& s, const std::string& name) {
  vm_manager::qemu::QemuVm h = handle_of(s, name);
  int fd = pidfd_of(static_cast<pid_t>(*h.pid));
  auto qmp = vm_manager::qemu::QmpClient::connect(h.qmp_socket, 5s);
  auto begin = Clock::now();
  qmp.quit();
  pollfd p{fd, POLLIN, 0};
  ::poll(&p, 1, 10000);
  double took = Ms(Clock::now() - begin).count();
  ::close(fd);
  return took;
}





// Start-up alone, as a user types it (no --data-dir): each run is a few ms,
// hence many runs.
void bench_version(const Setup& s) {
  Paired p = alternate(
      s.runs * 15, [&s] { return timed_process({s.vmctl, "--version"}); },
      [] { return timed_process({"/bin/true"}); });
  print_row("vmctl --version", median(p.ours), "-", "-", "<= 3 ms", median(p.ours) <= 3);
  print_ratio_row("vmctl --version, against /bin/true", p, 3);
}

// vmctl's QMP commands on a running guest against qmp_floor. Each run
// connects afresh and lets go, as QMP serves one client at a time.
void bench_qmp_commands(const Setup& s) {
  create_tiny(s, "qmp");
  vmctl(s, {"start", "qmp"});
  // Measured once the guest idles, as for list: a booting guest under TCG
  // takes the cores.
  if (!wait_for_console(handle_of(s, "qmp"), "TINY-GUEST: ready")) throw std::runtime_error("guest did not boot");
  const std::string socket = handle_of(s, "qmp").qmp_socket;
  auto floor = [&s, &socket](const std::string& command) { return timed_process({s.qmp_floor, socket, command}); };
  const int runs = s.runs * 5;

  Paired status = alternate(
      runs, [&s] { return timed_vmctl(s, {"status", "qmp", "--json"}); }, [&floor] { return floor("query-status"); });
  print_ratio_row("vmctl status --json, running VM", status, 2);

  // Taken in turn by pairs, so that each command makes a real transition
  // and the VM ends running: suspend, resume, stop, cont.
  Paired suspend;
  Paired resume;
  for (int i = 0; i < runs; ++i) {
    suspend.ours.push_back(timed_vmctl(s, {"suspend", "qmp"}));
    resume.ours.push_back(timed_vmctl(s, {"resume", "qmp"}));
    suspend.floor.push_back(floor("stop"));
    resume.floor.push_back(floor("cont"));
  }
  print_ratio_row("vmctl suspend", suspend, 2);
  print_ratio_row("vmctl resume", resume, 2);
  // Gone, so that list sees the VMs it saw before these rows and no guest
  // runs beside the later benchmarks.
  vmctl(s, {"destroy", "qmp"});
}

// What ld.so writes to stderr about a start-up when LD_DEBUG=what.
std::string loader_debug(const std::vector<std::string>& argv, const std::string& what) {
  vm_manager::os::ProcessSpec spec;
  spec.argv = argv;
  spec.env_overrides = {{"LD_DEBUG", what}};
  return run_process(spec, 30s).err;
}

// The number after "key:" where the loader first prints it, or "n/a".
std::string loader_number(const std::string& debug, const std::string& key) {
  auto at = debug.find(key + ":");
  if (at == std::string::npos) return "n/a";
  at = debug.find_first_not_of(' ', at + key.size() + 1);
  const auto end = debug.find_first_not_of("0123456789", at);
  return at == std::string::npos || end == at ? "n/a" : debug.substr(at, end - at);
}

// ld.so's start-up statistics shown: our label, then the key ld.so prints.
constexpr std::pair<const char*, const char*> kLoaderStatistics[] = {
    {"ld.so start-up, cycles", "total startup time in dynamic loader"},
    {"  of which relocation, cycles", "time needed for relocation"},
    {"  of which loading objects, cycles", "time needed to load objects"},
    {"relocations (symbol lookups)", "number of relocations"},
    {"relative relocations", "number of relative relocations"},
};

// The shared objects ld.so maps for argv (one "generating link map" each),
// then kLoaderStatistics; "n/a" for what could not be read.
std::vector<std::string> loader_facts(const std::vector<std::string>& argv) {
  const std::string files = loader_debug(argv, "files");
  std::size_t objects = 0;
  for (auto at = files.find("generating link map"); at != std::string::npos;
       at = files.find("generating link map", at + 1)) {
    ++objects;
  }
  std::vector<std::string> facts{objects == 0 ? "n/a" : std::to_string(objects)};
  const std::string statistics = loader_debug(argv, "statistics");
  for (const auto& [label, key] : kLoaderStatistics) facts.push_back(loader_number(statistics, key));
  return facts;
}

// What the kernel counts for a whole process (wait4's rusage): medians of
// its page faults and of its CPU time. The split of that time between user
// space and the kernel is sampled at timer ticks, meaningless for a process
// of a millisecond; the sum is exact.
struct ProcessCost {
  double minor_faults = 0;
  double cpu_ms = 0;
};

ProcessCost process_cost(const std::vector<std::string>& argv, int runs) {
  std::vector<double> faults;
  std::vector<double> cpu;
  auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3;
  };
  for (int i = 0; i < runs; ++i) {
    const pid_t child = spawn(argv);
    int status = 0;
    rusage usage{};
    while (::wait4(child, &status, 0, &usage) < 0) {
      if (errno != EINTR) throw std::runtime_error("wait4 failed");
    }
    faults.push_back(static_cast<double>(usage.ru_minflt));
    cpu.push_back(ms(usage.ru_utime) + ms(usage.ru_stime));
  }
  return {median(faults), median(cpu)};
}

// Where vmctl --version's time goes, /bin/true beside it: the kernel's
// account of the process (its CPU time, exec and exit included, and the page
// faults that mapping a larger program costs), then ld.so's own, run once each apart from the timed runs (LD_DEBUG slows
// the loader down).
void print_startup_breakdown(const Setup& s) {
  const ProcessCost our_cost = process_cost({s.vmctl, "--version"}, s.runs * 5);
  const ProcessCost floor_cost = process_cost({"/bin/true"}, s.runs * 5);
  std::printf("\n  where vmctl --version's time goes (rusage)      %14s %12s\n", "vmctl", "/bin/true");
  std::printf("  %-45s %14.0f %12.0f\n", "page faults", our_cost.minor_faults, floor_cost.minor_faults);
  std::printf("  %-45s %14.2f %12.2f\n", "CPU time (user and kernel), ms", our_cost.cpu_ms, floor_cost.cpu_ms);

  const auto ours = loader_facts({s.vmctl, "--version"});
  const auto floor = loader_facts({"/bin/true"});
  std::printf("  before main (ld.so, LD_DEBUG)\n");
  std::printf("  %-45s %14s %12s\n", "shared objects loaded", ours[0].c_str(), floor[0].c_str());
  for (std::size_t i = 0; i < std::size(kLoaderStatistics); ++i) {
    std::printf("  %-45s %14s %12s\n", kLoaderStatistics[i].first, ours[i + 1].c_str(), floor[i + 1].c_str());
  }
  std::printf("\n");
}

void bench_start(const Setup& s) {
  create_tiny(s, "bench");
  std::vector<double> floor;
  std::vector<double> ours;
  for (int i = 0; i < s.runs; ++i) {
    floor.push_back(floor_start(s, handle_of(s, "bench"), 10s));
    ours.push_back(timed_vmctl(s, {"start", "bench"}));
    vmctl(s, {"stop", "--force", "bench"});
  }
  print_ratio_row("vmctl start", {ours, floor}, 1.10);
}

void bench_stop(const Setup& s) {
  std::vector<double> after_exit;
  std::vector<double> quit;
  for (int i = 0; i < s.runs; ++i) {
    vmctl(s, {"start", "bench"});
    if (!wait_for_console(handle_of(s, "bench"), "TINY-GUEST: ready")) throw std::runtime_error("guest did not boot");
    after_exit.push_back(measure_stop(s, "bench").after_exit_ms);
    vmctl(s, {"start", "bench"});
    quit.push_back(floor_quit(s, "bench"));
    vmctl(s, {"stop", "--force", "bench"});
  }
  print_row("vmctl stop, after QEMU's exit", median(after_exit), fmt::format("{:.1f} ms", median(quit)), "-",
            "<= 20 ms", median(after_exit) <= 20);
}

void bench_list(const Setup& s) {
  for (int i = 0; i < 49; ++i) create_tiny(s, fmt::format("list{:02}", i));
  for (int i = 0; i < 5; ++i) vmctl(s, {"start", fmt::format("list{:02}", i)});
  // Measured once the guests idle, as VMs mostly do: booting guests under TCG
  // would take every core and measure the machine rather than vmctl.
  for (int i = 0; i < 5; ++i) {
    if (!wait_for_console(handle_of(s, fmt::format("list{:02}", i)), "TINY-GUEST: ready")) {
      throw std::runtime_error("guest did not boot");
    }
  }
  std::vector<double> took;
  for (int i = 0; i < s.runs * 2; ++i) took.push_back(timed_vmctl(s, {"list", "--json"}));
  print_row("vmctl list --json, 50 VMs", median(took), "-", "-", "<= 25 ms", median(took) <= 25);
}

// How late a QMP call's timeout fires, and how soon a lock waiter follows a
// release: both waits poll or sleep, and a loaded machine stretches them, so
// the tests only bound them against hangs and the numbers live here.
void bench_timeouts(const Setup& s) {
  constexpr auto kQmpTimeout = 100ms;
  std::vector<double> late;
  for (int i = 0; i < s.runs; ++i) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) throw std::runtime_error("socketpair");
    vm_manager::os::UniqueFd silent(fds[1]);
    const auto begin = Clock::now();
    try {
      vm_manager::qemu::QmpClient::over_fd(fds[0], kQmpTimeout);
      throw std::runtime_error("a silent QMP peer was accepted");
    } catch (const vm_manager::Error&) {
    }
    late.push_back(Ms(Clock::now() - begin - kQmpTimeout).count());
  }
  print_row("QMP timeout, after its deadline", median(late), "-", "-", "<= 20 ms", median(late) <= 20);

  const fs::path data = s.data / "lock-bench";
  std::vector<double> followed;
  for (int i = 0; i < s.runs; ++i) {
    vm_manager::VmStore holder_store{vm_manager::DataDir(data)};
    std::optional<vm_manager::VmLock> held(holder_store.lock("bench"));
    std::promise<void> waiting;
    vm_manager::LockOptions options;
    options.on_wait = [&waiting](std::string_view, long) { waiting.set_value(); };
    Clock::time_point acquired{};
    std::thread waiter([&] {
      vm_manager::VmStore store{vm_manager::DataDir(data), options};
      vm_manager::VmLock lock = store.lock("bench");
      acquired = Clock::now();
    });
    waiting.get_future().wait();
    std::this_thread::sleep_for(200ms);  // well into the waiter's polling, at its longest pause
    const auto released = Clock::now();
    held.reset();
    waiter.join();
    followed.push_back(Ms(acquired - released).count());
  }
  print_row("lock waiter, after the release", median(followed), "-", "-", "<= 50 ms", median(followed) <= 50);
}

// The reference for "when did the guest's sshd answer": one connection to
// the forwarded port at a time, replaced as soon as it is refused or reset
// (the guest's answer while nothing listens) or after 50 ms of silence (QEMU
// may hold it while the guest's network is down). One at a time, because
// dropbear drops a client's sixth unauthenticated connection and vmctl's own
// probes need four.
Clock::time_point first_banner(std::uint16_t port, Clock::time_point deadline) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  while (Clock::now() < deadline) {
    vm_manager::os::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd.get() < 0 || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      std::this_thread::sleep_for(1ms);
      continue;
    }
    const auto opened = Clock::now();
    while (Clock::now() - opened < 50ms) {
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 1) != 1) continue;
      char buffer[4] = {};
      const auto seen = Clock::now();
      if (::recv(fd.get(), buffer, sizeof buffer, MSG_PEEK) == 4 && std::string(buffer, 4) == "SSH-") return seen;
      if (p.revents & (POLLHUP | POLLERR)) break;
      if (::recv(fd.get(), buffer, sizeof buffer, MSG_PEEK | MSG_DONTWAIT) <= 0) break;  // closed
    }
  }
  throw std::runtime_error("the guest's sshd never answered");
}


// Two views of SSH readiness on a booting tiny guest, each against the
// reference prober running beside it:
//   noticed   ssh::wait_for_banner (100 ms probes), as `--wait` uses it;
//   start --wait  the whole command: banner, key exchange and login under
//             TCG, `cloud-init status --wait`, exit.
void bench_ssh_readiness(const Setup& s) {
  create_tiny(s, "ready");
  // The forwarded port is chosen at start (the preferred one may still be
  // held by the last run's closing connections): read it once the store
  // shows a new QEMU.
  auto banner_of_started = [&s](std::optional<std::int64_t> stopped_pid) {
    const auto deadline = Clock::now() + 120s;
    vm_manager::qemu::QemuVm h = handle_of(s, "ready");
    while (h.pid == stopped_pid && Clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
      h = handle_of(s, "ready");
    }
    return first_banner(h.ssh_port.value_or(0), deadline);
  };
  std::vector<double> noticed;
  std::vector<double> waited;
  for (int i = 0; i < s.runs; ++i) {
    std::future<Clock::time_point> reference =
        std::async(std::launch::async, banner_of_started, handle_of(s, "ready").pid);
    vmctl(s, {"start", "ready"});
    const std::uint16_t port = handle_of(s, "ready").ssh_port.value_or(0);
    vm_manager::ssh::wait_for_banner("127.0.0.1", port, Clock::now() + 120s);
    const auto seen = Clock::now();
    noticed.push_back(Ms(seen - reference.get()).count());
    vmctl(s, {"stop", "--force", "ready"});

    reference = std::async(std::launch::async, banner_of_started, handle_of(s, "ready").pid);
    const bool ok = succeeded(spawn_vmctl(s, {"start", "ready", "--wait"}));
    const auto returned = Clock::now();
    if (!ok) throw std::runtime_error("vmctl start --wait failed");
    waited.push_back(Ms(returned - reference.get()).count());
    vmctl(s, {"stop", "--force", "ready"});
  }
  print_row("ssh readiness noticed, after sshd", median(noticed), "-", "-", "< 150 ms", median(noticed) < 150);
  print_row("start --wait returns, after sshd", median(waited), "-", "-", "", true);
}

// Reading 100 MB in the tiny guest: through its virtiofs mount, and from
// its tmpfs. Information, no target: TCG sets the pace of both.
void bench_shared_folder(const Setup& s) {
  if (::geteuid() != 0) {
    std::printf("%-34s %s\n", "shared folder read", "not measured: QEMU 7.2's virtiofsd needs root");
    return;
  }
  constexpr double kMegabytes = 100;
  const fs::path share = s.data / "share";
  fs::create_directories(share);
  vmctl(s, {"create", "--name", "share", "--image", (s.guest / "disk.qcow2").string(), "--kernel",
            (s.guest / "vmlinuz").string(), "--initrd", (s.guest / "initrd.img").string(), "--append",
            "console=ttyS0 panic=-1", "--memory", "512", "--accel", "tcg", "--mount", share.string() + ":/mnt/share:ro",
            "--start", "--wait"});
  // The guest's own clock around the command (/proc/uptime: 10 ms steps;
  // busybox's date has no %N), so SSH's cost stays out.
  auto in_guest = [&s](const std::string& command) {
    auto out = run_process(vmctl_args(s, {"ssh", "share", "--", "sh", "-c",
                                          "'read a x </proc/uptime; " + command + "; read b x </proc/uptime; echo $a $b'"}),
                           300s);
    double before = 0;
    double after = 0;
    std::istringstream times(out.out);
    if (!out.ok() || !(times >> before >> after)) throw std::runtime_error("in the guest: " + command + ": " + out.err);
    return (after - before) * 1000;
  };
  std::vector<double> first, again, local;
  const int runs = std::min(s.runs, 3);  // 100 MB of host disk per run
  for (int i = 0; i < runs; ++i) {
    const std::string name = fmt::format("big-{}", i);
    {
      std::ofstream big(share / name, std::ios::binary);
      std::string block(1 << 20, static_cast<char>('a' + i));
      for (int mb = 0; mb < static_cast<int>(kMegabytes); ++mb) big << block;
    }
    first.push_back(in_guest("cat /mnt/share/" + name + " >/dev/null"));
    again.push_back(in_guest("cat /mnt/share/" + name + " >/dev/null"));
    in_guest("cat /mnt/share/" + name + " >/tmp/local");
    local.push_back(in_guest("cat /tmp/local >/dev/null"));
    in_guest("rm -f /tmp/local");
    fs::remove(share / name);
  }
  auto row = [&](const std::string& what, const std::vector<double>& samples) {
    const double ms = std::max(median(samples), 10.0);  // the clock's step
    print_row(what, ms, "-", fmt::format("{:.0f} MB/s", kMegabytes / (ms / 1000)), "", true);
  };
  row("read 100 MB via virtiofs, first", first);
  row("read 100 MB via virtiofs, cached", again);
  row("read 100 MB from guest tmpfs", local);
  vmctl(s, {"destroy", "share"});
}

// Snapshot create and restore, each a whole vmctl process. Information,
// no target: qemu-img's and QEMU's own work set the pace.
void bench_snapshots(const Setup& s) {
  create_tiny(s, "snap");
  std::vector<double> disk_create, disk_restore, ram_create, ram_restore, ram_boot_restore, live_disk_create;
  const int runs = std::min(s.runs, 5);
  for (int i = 0; i < runs; ++i) {
    disk_create.push_back(timed_vmctl(s, {"snapshot", "create", "snap", "disks"}));
    disk_restore.push_back(timed_vmctl(s, {"snapshot", "restore", "snap", "disks"}));
    vmctl(s, {"start", "snap"});
    if (!wait_for_console(handle_of(s, "snap"), "TINY-GUEST: ready")) throw std::runtime_error("guest did not boot");
    ram_create.push_back(timed_vmctl(s, {"snapshot", "create", "snap", "ram"}));
    ram_restore.push_back(timed_vmctl(s, {"snapshot", "restore", "snap", "ram"}));
    live_disk_create.push_back(timed_vmctl(s, {"snapshot", "create", "snap", "live-disks", "--no-memory"}));
    vmctl(s, {"snapshot", "rm", "snap", "live-disks"});
    vmctl(s, {"stop", "--force", "snap"});
    ram_boot_restore.push_back(timed_vmctl(s, {"snapshot", "restore", "snap", "ram"}));
    vmctl(s, {"snapshot", "rm", "snap", "ram"});
    vmctl(s, {"stop", "--force", "snap"});
    vmctl(s, {"snapshot", "rm", "snap", "disks"});
  }
  print_row("snapshot create, stopped (disks)", median(disk_create), "-", "-", "", true);
  print_row("snapshot restore, stopped (disks)", median(disk_restore), "-", "-", "", true);
  print_row("snapshot create, running, RAM", median(ram_create), "-", "-", "", true);
  print_row("snapshot restore, running, RAM", median(ram_restore), "-", "-", "", true);
  print_row("snapshot restore RAM, stopped VM", median(ram_boot_restore), "-", "-", "", true);
  print_row("snapshot create, running, no RAM", median(live_disk_create), "-", "-", "", true);
  vmctl(s, {"destroy", "snap"});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s VMCTL GUEST_CACHE DATA_DIR [RUNS [ONLY]]\n", argv[0]);
    return 2;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each row as it is measured, also into a pipe
  Setup s{argv[1], argv[2], argv[3], argc > 4 ? std::atoi(argv[4]) : 7};
  // ONLY names the groups to run (say "start,stop"), for work on one of them.
  const std::string only = argc > 5 ? argv[5] : "";
  auto wanted = [&only](const std::string& group) {
    return only.empty() || ("," + only + ",").find("," + group + ",") != std::string::npos;
  };
  fs::create_directories(s.data);
  std::printf("vmctl benchmarks: medians of %d runs, tiny guest under TCG\n\n", s.runs);
  std::printf("%-34s %13s %12s %8s   %-14s\n", "benchmark", "median", "floor", "ratio", "target");
  int status = 0;
  const std::vector<std::pair<std::string, void (*)(const Setup&)>> groups{
      {"version", bench_version},        {"qmp", bench_qmp_commands}, {"startup", print_startup_breakdown},
      {"ssh", bench_ssh_readiness},      {"start", bench_start},      {"stop", bench_stop},
      {"list", bench_list},              {"timeouts", bench_timeouts}, {"mounts", bench_shared_folder},
      {"snapshots", bench_snapshots}};
  try {
    for (const auto& [group, run] : groups) {
      if (wanted(group)) run(s);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench failed: %s\n", e.what());
    status = 1;
  }
  // Whatever happened, leave no VM running.
  auto out = run_process(vmctl_args(s, {"list", "--json"}), 60s);
  if (out.ok()) {
    for (const auto& vm : nlohmann::json::parse(out.out)) {
      run_process(vmctl_args(s, {"destroy", vm.at("name").get<std::string>()}), 60s);
    }
  }
  return status;
}
