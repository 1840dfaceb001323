// A scriptable qemu::Host for unit tests: no process is ever started or
// signalled for real unless a program is explicitly forwarded to the real
// os::run_process (e.g. qemu-img).
//
//   FakeHost host;
//   host.on_run({"ip", "link", "show"}, FakeHost::exit_code(1));  // scripted output
//   host.forward_to_real("qemu-img");                           // really runs it
//   host.add_process(4242, 777, FakeHost::exits_on(SIGTERM));      // a simulated QEMU
//   host.set_kvm({false, "cannot open /dev/kvm: No such file or directory"});
//   … host.runs(), host.signals(), host.waits(), host.kvm_probes()
//
// Simulated processes live in a table: pid, start time, the signals that
// end them, and optionally a moment at which they exit on their own.
// wait_for_exit() really sleeps (up to its timeout) for a process that does
// not exit, like the real host, so elapsed times in tests stay meaningful;
// keep the timeouts given to the code under test small.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "backends/qemu/host.hpp"
#include "os/process.hpp"
#include "vm_manager/error.hpp"

namespace vmctl::test {

class FakeHost final : public vm_manager::qemu::Host {
 public:
  using Clock = std::chrono::steady_clock;
  using Responder = std::function<vm_manager::os::ProcessOutput(const vm_manager::os::ProcessSpec&)>;

  struct RunCall {
    std::vector<std::string> argv;
    std::map<int, int> child_fds;
    std::map<std::string, std::string> env_overrides;
    std::chrono::milliseconds timeout{0};
  };
  struct SignalCall {
    pid_t pid = 0;
    std::uint64_t start_time = 0;
    int signal = 0;
    bool delivered = false;  // false: no such process with that start time and identity
  };
  struct WaitCall {
    pid_t pid = 0;
    std::uint64_t start_time = 0;
    std::chrono::milliseconds timeout{0};
    bool exited = false;
  };

  // How a simulated process reacts to signals: the set of signals that end
  // it (empty: it survives everything, even SIGKILL).
  struct Behaviour {
    std::set<int> fatal_signals;
  };
  static Behaviour exits_on(int signal) { return {{signal}}; }
  static Behaviour exits_on(std::set<int> signals) { return {std::move(signals)}; }
  static Behaviour survives_everything() { return {}; }
  // A normal process: SIGTERM or SIGKILL ends it.
  static Behaviour ordinary() { return {{SIGTERM, SIGKILL}}; }

  // --- scripting run() -------------------------------------------------

  static vm_manager::os::ProcessOutput exit_code(int code, std::string out = {}, std::string err = {}) {
    vm_manager::os::ProcessOutput o;
    o.exit_code = code;
    o.out = std::move(out);
    o.err = std::move(err);
    return o;
  }
  static vm_manager::os::ProcessOutput success(std::string out = {}) { return exit_code(0, std::move(out)); }

  // Calls whose argv starts with `argv_prefix` get `output`. The longest
  // matching prefix wins; among equal ones, the latest scripted.
  void on_run(std::vector<std::string> argv_prefix, vm_manager::os::ProcessOutput output) {
    on_run(std::move(argv_prefix), [output](const vm_manager::os::ProcessSpec&) { return output; });
  }
  void on_run(std::vector<std::string> argv_prefix, Responder responder) {
    std::lock_guard lock(mutex_);
    scripts_.push_back({std::move(argv_prefix), std::move(responder)});
  }
  // Calls of `program` (argv[0]) really run, through os::run_process.
  void forward_to_real(const std::string& program) {
    on_run({program}, [](const vm_manager::os::ProcessSpec& spec) {
      return vm_manager::os::run_process(spec, std::chrono::seconds(60));
    });
  }
  // What an unscripted call returns (default: exit 127, "not scripted").
  void on_unscripted(vm_manager::os::ProcessOutput output) {
    std::lock_guard lock(mutex_);
    unscripted_ = std::move(output);
  }

  // --- simulated processes -----------------------------------------------

  void add_process(pid_t pid, std::uint64_t start_time, Behaviour behaviour = ordinary()) {
    std::lock_guard lock(mutex_);
    processes_[pid] = Process{start_time, std::move(behaviour), true, std::nullopt};
  }
  // The process exits by itself `after` from now (as after an ACPI shutdown).
  void exit_after(pid_t pid, std::chrono::milliseconds after) {
    std::lock_guard lock(mutex_);
    processes_.at(pid).exits_at = Clock::now() + after;
  }
  void kill_now(pid_t pid) {
    std::lock_guard lock(mutex_);
    processes_.at(pid).alive = false;
  }
  bool alive(pid_t pid) {
    std::lock_guard lock(mutex_);
    auto it = processes_.find(pid);
    return it != processes_.end() && alive_locked(it->second);
  }

  // What process_identity() reports for `pid` (nothing by default), and
  // what signal() checks: a process without an identity is never signalled.
  void set_identity(pid_t pid, vm_manager::os::ProcessIdentity identity) {
    std::lock_guard lock(mutex_);
    identities_[pid] = std::move(identity);
  }

  // What vmctl's QEMU for the VM `name` in `work_dir` runs, as /proc shows it.
  static vm_manager::os::ProcessIdentity qemu_identity(const std::string& name, const std::filesystem::path& work_dir) {
    return {"/usr/bin/qemu-system-x86_64",
            {"qemu-system-x86_64", "-name", "guest=" + name + ",debug-threads=on", "-pidfile",
             (work_dir / "qemu.pid").string(), "-daemonize"}};
  }

  void set_kvm(vm_manager::qemu::KvmProbe probe) {
    std::lock_guard lock(mutex_);
    kvm_ = std::move(probe);
  }

  // --- what happened -----------------------------------------------------

  std::vector<RunCall> runs() const {
    std::lock_guard lock(mutex_);
    return runs_;
  }
  std::vector<std::vector<std::string>> run_argvs() const {
    std::lock_guard lock(mutex_);
    std::vector<std::vector<std::string>> out;
    for (const auto& r : runs_) out.push_back(r.argv);
    return out;
  }
  // Every signal() call, delivered or not.
  std::vector<SignalCall> signal_calls() const {
    std::lock_guard lock(mutex_);
    return signal_calls_;
  }
  // The signals actually delivered, in order.
  std::vector<int> signals() const {
    std::lock_guard lock(mutex_);
    std::vector<int> out;
    for (const auto& s : signal_calls_) {
      if (s.delivered) out.push_back(s.signal);
    }
    return out;
  }
  std::vector<WaitCall> waits() const {
    std::lock_guard lock(mutex_);
    return waits_;
  }
  std::vector<std::filesystem::path> kvm_probes() const {
    std::lock_guard lock(mutex_);
    return kvm_probes_;
  }
  // Every Host call in order, one line each: "run ip link show dev x",
  // "signal 4242 15 delivered", "wait 4242 50ms exited", "probe_kvm /dev/kvm".
  std::vector<std::string> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }

  // --- qemu::Host ----------------------------------------------------------

  // No daemon is started: the shared-folder tests run the real virtiofsd
  // on the real host.
  pid_t start_daemon(const vm_manager::os::DaemonSpec& spec) override {
    std::lock_guard lock(mutex_);
    events_.push_back("daemon " + vm_manager::os::describe(spec.argv));
    throw vm_manager::Error(vm_manager::errc::process_spawn_failed, "FakeHost starts no daemons",
                            "use the real host for shared folders");
  }

  vm_manager::os::ProcessOutput run(const vm_manager::os::ProcessSpec& spec,
                                    std::chrono::milliseconds timeout) override {
    Responder responder;
    {
      std::lock_guard lock(mutex_);
      runs_.push_back({spec.argv, spec.child_fds, spec.env_overrides, timeout});
      events_.push_back("run " + vm_manager::os::describe(spec.argv));
      std::size_t best = 0;
      for (const auto& script : scripts_) {
        const auto& prefix = script.first;
        if (prefix.size() > spec.argv.size() || (responder && prefix.size() < best)) continue;
        if (std::equal(prefix.begin(), prefix.end(), spec.argv.begin())) {
          responder = script.second;
          best = prefix.size();
        }
      }
      if (!responder) {
        vm_manager::os::ProcessOutput out = unscripted_;
        if (out.err.empty()) out.err = "fake host: nothing scripted for " + vm_manager::os::describe(spec.argv);
        return out;
      }
    }
    return responder(spec);  // unlocked: it may really run a program
  }

  std::optional<std::uint64_t> process_start_time(pid_t pid) override {
    std::lock_guard lock(mutex_);
    auto it = processes_.find(pid);
    if (it == processes_.end() || !alive_locked(it->second)) return std::nullopt;
    return it->second.start_time;
  }

  bool process_running(pid_t pid, std::uint64_t start_time) override {
    std::lock_guard lock(mutex_);
    return ours_locked(pid, start_time) != nullptr;
  }

  bool signal(pid_t pid, std::uint64_t start_time, const vm_manager::os::IdentityCheck& is_expected,
              int signal) override {
    std::lock_guard lock(mutex_);
    Process* p = ours_locked(pid, start_time);
    // Like the real host: only a process whose identity passes the check.
    auto identity = identities_.find(pid);
    if (identity == identities_.end() || !is_expected(identity->second)) p = nullptr;
    signal_calls_.push_back({pid, start_time, signal, p != nullptr});
    events_.push_back("signal " + std::to_string(pid) + " " + std::to_string(signal) +
                      (p != nullptr ? " delivered" : " refused"));
    if (p == nullptr) return false;
    if (p->behaviour.fatal_signals.count(signal) != 0) p->alive = false;
    return true;
  }

  bool wait_for_exit(pid_t pid, std::uint64_t start_time, std::chrono::milliseconds timeout) override {
    std::optional<Clock::time_point> exits_at;
    {
      std::lock_guard lock(mutex_);
      Process* p = ours_locked(pid, start_time);
      if (p == nullptr) {
        record_wait_locked({pid, start_time, timeout, true});
        return true;
      }
      exits_at = p->exits_at;
    }
    auto deadline = Clock::now() + timeout;
    bool exits = exits_at && *exits_at <= deadline;
    std::this_thread::sleep_until(exits ? *exits_at : deadline);
    std::lock_guard lock(mutex_);
    if (exits) processes_.at(pid).alive = false;
    record_wait_locked({pid, start_time, timeout, exits});
    return exits;
  }

  std::optional<vm_manager::os::ProcessIdentity> process_identity(pid_t pid) override {
    std::lock_guard lock(mutex_);
    auto process = processes_.find(pid);
    auto identity = identities_.find(pid);
    if (process == processes_.end() || !alive_locked(process->second) || identity == identities_.end()) {
      return std::nullopt;
    }
    return identity->second;
  }

  vm_manager::qemu::KvmProbe probe_kvm(const std::filesystem::path& device) override {
    std::lock_guard lock(mutex_);
    kvm_probes_.push_back(device);
    events_.push_back("probe_kvm " + device.string());
    return kvm_;
  }

 private:
  std::map<pid_t, vm_manager::os::ProcessIdentity> identities_;

  struct Process {
    std::uint64_t start_time = 0;
    Behaviour behaviour;
    bool alive = true;
    std::optional<Clock::time_point> exits_at;
  };

  void record_wait_locked(WaitCall call) {
    waits_.push_back(call);
    events_.push_back("wait " + std::to_string(call.pid) + " " + std::to_string(call.timeout.count()) + "ms" +
                      (call.exited ? " exited" : " timeout"));
  }
  bool alive_locked(Process& p) {
    if (p.alive && p.exits_at && Clock::now() >= *p.exits_at) p.alive = false;
    return p.alive;
  }
  Process* ours_locked(pid_t pid, std::uint64_t start_time) {
    auto it = processes_.find(pid);
    if (it == processes_.end() || it->second.start_time != start_time || !alive_locked(it->second)) return nullptr;
    return &it->second;
  }

  mutable std::mutex mutex_;
  std::vector<std::pair<std::vector<std::string>, Responder>> scripts_;
  vm_manager::os::ProcessOutput unscripted_ = exit_code(127);
  std::map<pid_t, Process> processes_;
  vm_manager::qemu::KvmProbe kvm_{false, "fake host: no KVM"};
  std::vector<RunCall> runs_;
  std::vector<SignalCall> signal_calls_;
  std::vector<WaitCall> waits_;
  std::vector<std::filesystem::path> kvm_probes_;
  std::vector<std::string> events_;
};

}  // namespace vmctl::test
