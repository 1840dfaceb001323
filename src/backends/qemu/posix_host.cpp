#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "backends/qemu/host.hpp"
#include "os/proc.hpp"

namespace vm_manager::qemu {
namespace {

class PosixHost final : public Host {
 public:
  os::ProcessOutput run(const os::ProcessSpec& spec, std::chrono::milliseconds timeout) override {
    return os::run_process(spec, timeout);
  }

  pid_t start_daemon(const os::DaemonSpec& spec) override { return os::start_daemon(spec); }

  std::optional<std::uint64_t> process_start_time(pid_t pid) override {
    auto stat = os::read_proc_stat(pid);
    if (!stat || stat->state == 'Z' || stat->state == 'X') return std::nullopt;
    return stat->start_time;
  }

  bool process_running(pid_t pid, std::uint64_t start_time) override {
    return os::is_running_process(pid, start_time);
  }

  bool signal(pid_t pid, std::uint64_t start_time, const os::IdentityCheck& is_expected, int signal) override {
    return os::signal_process(pid, start_time, is_expected, signal);
  }

  bool wait_for_exit(pid_t pid, std::uint64_t start_time, std::chrono::milliseconds timeout) override {
    return os::wait_for_exit(pid, start_time, timeout);
  }

  std::optional<os::ProcessIdentity> process_identity(pid_t pid) override { return os::read_process_identity(pid); }

  KvmProbe probe_kvm(const std::filesystem::path& device) override {
    int kvm = ::open(device.c_str(), O_RDWR | O_CLOEXEC);
    if (kvm < 0) return {false, fmt::format("cannot open {}: {}", device.string(), std::strerror(errno))};
    KvmProbe probe;
    int version = ::ioctl(kvm, KVM_GET_API_VERSION, 0);
    if (version != KVM_API_VERSION) {
      probe.reason = fmt::format("{} is not a usable KVM device", device.string());
    } else if (int vm = ::ioctl(kvm, KVM_CREATE_VM, 0); vm < 0) {
      probe.reason = fmt::format("KVM cannot create a VM: {}", std::strerror(errno));
    } else {
      ::close(vm);
      probe.usable = true;
    }
    ::close(kvm);
    return probe;
  }
};

}  // namespace

std::shared_ptr<Host> make_posix_host() { return std::make_shared<PosixHost>(); }

}  // namespace vm_manager::qemu
