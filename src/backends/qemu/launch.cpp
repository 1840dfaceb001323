// QemuBackend::start: run QEMU daemonized, find it a free SSH port, and
// check over QMP that the VM runs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <csignal>

#include <fmt/format.h>

#include "backends/qemu/command_line.hpp"
#include "backends/qemu/log_file.hpp"
#include "backends/qemu/options.hpp"
#include "backends/qemu/port_forwards.hpp"
#include "backends/qemu/qemu_backend.hpp"
#include "backends/qemu/qmp_client.hpp"
#include "backends/qemu/runtime_paths.hpp"
#include "backends/qemu/tap.hpp"
#include "backends/qemu/virtiofs.hpp"
#include "backends/qemu/work_dir_layout.hpp"
#include "os/files.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kHostForwardFailure = "Could not set up host forwarding rule";

// Whether we could bind the port ourselves right now: a cheap filter so that
// QEMU is only launched on ports likely to be free. QEMU may still lose a race.
bool port_looks_free(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return free;
}

// Ports to try, in order: from the VM's preferred port to the end of the
// range, then from its start, then 0 (any port, read back over QMP). Each is
// probed only when asked for: the first free one is nearly always taken.
class SshPortCandidates {
 public:
  SshPortCandidates(std::uint16_t preferred, const QemuConfig& config, const std::vector<PortForward>& published)
      : first_(config.ssh_port_first),
        span_(config.ssh_port_last - config.ssh_port_first + 1u),
        offset_((preferred - config.ssh_port_first + span_) % span_),
        published_(published) {}

  // The next port to try, or nullopt once 0 has been given.
  std::optional<std::uint16_t> next() {
    while (tried_ < span_) {
      auto port = static_cast<std::uint16_t>(first_ + (offset_ + tried_++) % span_);
      if (!is_published(port) && port_looks_free(port)) return port;
    }
    if (gave_any_) return std::nullopt;
    gave_any_ = true;
    return 0;
  }

 private:
  std::uint32_t first_;
  std::uint32_t span_;
  std::uint32_t offset_;
  std::uint32_t tried_ = 0;
  bool gave_any_ = false;
  // The VM's own published TCP ports: free until this QEMU binds them.
  const std::vector<PortForward>& published_;

  bool is_published(std::uint16_t port) const {
    return std::any_of(published_.begin(), published_.end(), [port](const PortForward& f) {
      return f.protocol == PortProtocol::tcp && f.host_port == port;
    });
  }
};

std::string last_lines(const std::string& text, std::size_t max_chars = 600) {
  std::string trimmed = text;
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == ' ')) trimmed.pop_back();
  if (trimmed.size() > max_chars) trimmed = "…" + trimmed.substr(trimmed.size() - max_chars);
  for (char& c : trimmed) {
    if (c == '\n') c = ' ';  // the message stays one line
  }
  return trimmed;
}

std::int64_t read_pidfile(const fs::path& pidfile) {
  auto text = os::read_file(pidfile).value_or("");
  std::int64_t pid = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (ec != std::errc() || pid <= 0) {
    throw Error(errc::vm_start_failed, fmt::format("QEMU left no usable pidfile at {}", pidfile.string()),
                "see qemu.log in the VM's folder");
  }
  return pid;
}

void remove_runtime_files(const QemuVm& h, const fs::path& pidfile) {
  remove_runtime_leftovers(h.qmp_socket, h.console_socket, pidfile);
}

// Gives a TCP VNC a new password and records where it listens (and, when
// `asks_port`, the SSH port QEMU picked), in one round trip. Until the
// password is set QEMU accepts none; if setting it fails, start fails and
// QEMU is killed, so a TCP VNC without a password is never left listening.
VncPassword protect_tcp_vnc(QmpClient& qmp, QemuVm& h, bool asks_port) {
  VncPassword vnc{"", random_vnc_password()};
  std::vector<QmpClient::Command> commands{{"change-vnc-password", {{"password", vnc.password}}},
                                           {"query-vnc"}};
  if (asks_port) commands.push_back({"human-monitor-command", {{"command-line", "info usernet"}}});
  std::vector<nlohmann::json> replies = qmp.execute_all(commands);
  const nlohmann::json& listening = QmpClient::vnc_from_reply(replies[1]);
  auto host = listening.value("host", std::string());
  auto service = listening.value("service", std::string());
  if (host.empty() || service.empty()) {
    throw Error(errc::vm_start_failed, fmt::format("QEMU did not say where VM '{}' listens for VNC", h.name),
                "see qemu.log in the VM's folder");
  }
  vnc.address = host + ":" + service;
  h.vnc = vnc.address;
  if (asks_port) h.ssh_port = ssh_port_from_usernet(QmpClient::text_from_hmp_reply(replies[2]));
  return vnc;
}

}  // namespace

VmHandle QemuBackend::start(const VmHandle& handle) {
  VmState current = state(handle);
  if (current != VmState::prepared && current != VmState::stopped) {
    throw Error(errc::vm_invalid_state,
                fmt::format("cannot start VM '{}': it is {}", handle.name, to_string(current)),
                current == VmState::suspended ? "resume a suspended VM instead of starting it"
                                              : "check the VM's state");
  }
  QemuVm h(handle);
  AccelChoice accel = choose_accel(h.accel, config_, *host_);
  if (!accel.warning.empty()) config_.log.warn("{}", accel.warning);

  fs::path work_dir(handle.work_dir);
  // Opened before anything is set up that a refusal would have to undo.
  os::UniqueFd console_log = open_log(layout::console_log(work_dir));
  os::UniqueFd qemu_log = open_log(layout::qemu_log(work_dir));
  LaunchPlan plan;
  plan.accel = accel.accel;
  plan.pidfile = layout::pidfile(work_dir);
  if (h.uefi) {
    plan.firmware = find_uefi_firmware(config_.firmware_dirs);
    plan.uefi_vars = layout::existing_uefi_vars(work_dir);
  }
  if (auto* tap = std::get_if<TapNetwork>(&handle.network)) {
    plan.tap = tap_name_for(handle);
    create_tap(plan.tap, tap->bridge, *host_);
  }

  const bool forwards_ssh = std::holds_alternative<UserNetwork>(h.network);
  // Named here, not quoted from qemu.log after QEMU failed.
  if (forwards_ssh) require_host_ports_free(h.port_forwards, h.name);
  SshPortCandidates ports(h.ssh_port.value_or(config_.ssh_port_first), config_, h.port_forwards);
  std::optional<std::uint16_t> port = forwards_ssh ? ports.next() : std::uint16_t{0};
  try {
    // Before QEMU, which connects to their sockets as it starts.
    h.virtiofsd = start_virtiofsd(h, config_, *host_);
    for (;;) {
      plan.ssh_host_port = *port;
      remove_runtime_files(h, plan.pidfile);
      off_t log_offset = log_size(qemu_log.get());
      os::ProcessSpec spec;
      spec.argv = qemu_command_line(h, plan, config_);
      // QEMU's stderr (its errors until -daemonize detaches) and the console
      // log: files we opened, never paths for QEMU to open.
      spec.child_fds = {{2, qemu_log.get()}, {kConsoleLogFd, console_log.get()}};
      config_.log.debug("starting {}", os::describe(spec.argv));
      os::ProcessOutput out = host_->run(spec, config_.launch_timeout);
      if (out.ok()) break;
      std::string complaint = read_log_from(qemu_log.get(), log_offset);
      // A published port taken between the check above and QEMU's bind.
      if (auto refused = forward_qemu_refused(h.port_forwards, complaint)) throw_port_in_use(*refused, h.name);
      if (complaint.find(kHostForwardFailure) != std::string::npos && forwards_ssh) {
        std::uint16_t taken = *port;
        if ((port = ports.next())) {
          config_.log.debug("SSH port {} is taken; trying {}", taken, *port);
          continue;
        }
      }
      std::string why = out.timed_out ? "it did not finish starting in time" : last_lines(complaint);
      throw Error(errc::vm_start_failed, fmt::format("QEMU failed to start VM '{}': {}", h.name, why),
                  plan.accel == Accel::kvm ? "KVM may not work here: use TCG (software emulation) instead"
                                           : "see " + layout::qemu_log(work_dir).string());
    }
    h.pid = read_pidfile(plan.pidfile);
    make_runtime_files_private(h.qmp_socket, h.console_socket, plan.pidfile);
    h.pid_start_time = host_->process_start_time(static_cast<pid_t>(*h.pid));
    if (!h.pid_start_time) {
      throw Error(errc::vm_start_failed,
                  fmt::format("QEMU exited right after starting VM '{}': {}", h.name,
                              last_lines(read_log_from(qemu_log.get(), 0))),
                  "see " + layout::qemu_log(work_dir).string());
    }

    // QEMU runs the guest from here on: it was not told to wait (-S), and
    // -daemonize returned only once its set-up was done, its sockets
    // listening. The handshake proves QMP answers; anything more waits for a
    // main loop the booting guest keeps busy, so start asks nothing else
    // unless QEMU picked the SSH port itself or VNC listens on TCP, and
    // then sends those commands at once.
    QmpClient qmp = QmpClient::connect(h.qmp_socket, config_.qmp_timeout);
    if (std::holds_alternative<UserNetwork>(h.network)) h.ssh_port = plan.ssh_host_port;
    const bool asks_port = std::holds_alternative<UserNetwork>(h.network) && plan.ssh_host_port == 0;
    std::optional<VncPassword> vnc_password;
    if (h.vnc_mode == VncMode::tcp) {
      vnc_password = protect_tcp_vnc(qmp, h, asks_port);
    } else {
      h.vnc = "unix:" + layout::vnc_socket(h.qmp_socket).string();
      if (asks_port) h.ssh_port = ssh_port_from_usernet(qmp.human_monitor_command("info usernet"));
    }
    VmHandle started = h.handle();
    started.vnc_password = std::move(vnc_password);
    return started;
  } catch (...) {
    if (h.pid && h.pid_start_time) {
      host_->signal(static_cast<pid_t>(*h.pid), *h.pid_start_time, its_qemu(h), SIGKILL);
      host_->wait_for_exit(static_cast<pid_t>(*h.pid), *h.pid_start_time, config_.kill_grace);
    }
    remove_runtime_files(h, plan.pidfile);
    stop_virtiofsd(h, config_, *host_);
    if (!plan.tap.empty()) delete_tap(plan.tap, *host_);
    throw;
  }
}

}  // namespace vm_manager::qemu
