// make bench: how much vmctl adds on top of QEMU itself.
//
//   start  vmctl start (process start, lock, store, launch, QMP checks)
//          against the floor: the same qemu-system-x86_64 -daemonize command
//          plus the QMP handshake, nothing else.
//   stop   how long vmctl stop takes to return after QEMU has exited (seen
//          through a pidfd), and the floor: QEMU's own exit after "quit".
//   list   vmctl list --json with 50 VMs, 5 of them running.
//   ssh readiness  how long ssh::wait_for_banner takes to notice a server
//          that starts greeting at a known instant (a local listener that
//          holds connections silent before, as QEMU's user networking does
//          while the guest's sshd is not up, and greets only new ones after).
//
// Medians over repeated runs; the tiny test guest under TCG.
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/qemu/command_line.hpp"
#include "backends/qemu/qmp_client.hpp"
#include "os/proc.hpp"
#include "os/process.hpp"
#include "ssh/session.hpp"
#include "vm_manager/json.hpp"

extern char** environ;

namespace {

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
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::vector<std::string> vmctl_args(const Setup& s, std::vector<std::string> args) {
  args.insert(args.begin(), {s.vmctl, "-q", "--data-dir", s.data.string()});
  return args;
}

void vmctl(const Setup& s, std::vector<std::string> args) {
  auto out = run_process(vmctl_args(s, std::move(args)), 300s);
  if (!out.ok()) throw std::runtime_error("vmctl failed: " + out.err);
}

void create_tiny(const Setup& s, const std::string& name) {
  vmctl(s, {"create", "--name", name, "--image", (s.guest / "disk.qcow2").string(), "--kernel",
            (s.guest / "vmlinuz").string(), "--initrd", (s.guest / "initrd.img").string(), "--append",
            "console=ttyS0 panic=-1", "--memory", "128", "--accel", "tcg"});
}

vm_manager::VmHandle handle_of(const Setup& s, const std::string& name) {
  auto record = nlohmann::json::parse(std::ifstream(s.data / "vms" / name / "vm.json"));
  return record.at("handle").get<vm_manager::VmHandle>();
}

bool wait_for_console(const vm_manager::VmHandle& h, const std::string& text) {
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
double floor_start(const Setup& s, const vm_manager::VmHandle& vm, vm_manager::qemu::QmpClient::Duration timeout) {
  vm_manager::VmHandle h = vm;
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

  auto begin = Clock::now();
  auto out = run_process(argv, 60s);
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
  auto begin = Clock::now();
  vmctl(s, std::move(args));
  return Ms(Clock::now() - begin).count();
}

struct StopSample {
  double after_exit_ms;  // vmctl's return minus QEMU's exit
};

// Starts vmctl stop, watches QEMU's pidfd and vmctl's exit, both without polling delays.
StopSample measure_stop(const Setup& s, const std::string& name) {
  vm_manager::VmHandle h = handle_of(s, name);
  int qemu_fd = pidfd_of(static_cast<pid_t>(*h.pid));
  auto argv = vmctl_args(s, {"stop", name});
  std::vector<char*> c_argv;
  for (auto& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  pid_t child = 0;
  if (::posix_spawn(&child, c_argv[0], nullptr, nullptr, c_argv.data(), environ) != 0) {
    throw std::runtime_error("cannot run vmctl");
  }
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
  vm_manager::VmHandle h = handle_of(s, name);
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

void print_row(const std::string& what, double value, const std::string& floor, const std::string& ratio,
               const std::string& target, bool met) {
  std::printf("%-34s %10.1f ms %12s %8s   %-14s %s\n", what.c_str(), value, floor.c_str(), ratio.c_str(),
              target.c_str(), met ? "ok" : "MISSED");
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
  double ratio = median(ours) / median(floor);
  print_row("vmctl start", median(ours), fmt::format("{:.1f} ms", median(floor)), fmt::format("{:.2f}x", ratio),
            "<= 1.10x", ratio <= 1.10);
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
  print_row("vmctl list --json, 50 VMs", median(took), "-", "-", "< 50 ms", median(took) < 50);
}

// Accepts on 127.0.0.1; connections stay silent until `answer_at`, after
// which each new one gets an SSH banner.
class LateSshListener {
 public:
  explicit LateSshListener(Clock::time_point answer_at) : answer_at_(answer_at) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 || ::listen(fd_, 64) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~LateSshListener() {
    stop_ = true;
    thread_.join();
    for (int fd : held_) ::close(fd);
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }

 private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, 2);
      int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      if (Clock::now() < answer_at_) {
        held_.push_back(client);
        continue;
      }
      const char banner[] = "SSH-2.0-vmctl-bench\r\n";
      (void)::send(client, banner, sizeof banner - 1, MSG_NOSIGNAL);
      ::close(client);
    }
  }
  Clock::time_point answer_at_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::vector<int> held_;
  std::thread thread_;
};

void bench_ssh_readiness(const Setup& s) {
  std::vector<double> delays;
  for (int i = 0; i < s.runs; ++i) {
    // Offsets vary so the answer does not always land at the same phase of
    // the probe interval.
    const auto answer_at = Clock::now() + 300ms + std::chrono::milliseconds(37 * i % 100);
    LateSshListener listener(answer_at);
    vm_manager::ssh::wait_for_banner("127.0.0.1", listener.port(), Clock::now() + 10s);
    delays.push_back(Ms(Clock::now() - answer_at).count());
  }
  print_row("ssh readiness, after server answers", median(delays), "-", "-", "< 150 ms", median(delays) < 150);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s VMCTL GUEST_CACHE DATA_DIR [RUNS]\n", argv[0]);
    return 2;
  }
  Setup s{argv[1], argv[2], argv[3], argc > 4 ? std::atoi(argv[4]) : 7};
  fs::create_directories(s.data);
  std::printf("vmctl benchmarks: medians of %d runs, tiny guest under TCG\n\n", s.runs);
  std::printf("%-34s %13s %12s %8s   %-14s\n", "benchmark", "median", "floor", "ratio", "target");
  int status = 0;
  try {
    bench_ssh_readiness(s);
    bench_start(s);
    bench_stop(s);
    bench_list(s);
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
