#include "backends/libvirt/libvirt_host.hpp"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "backends/qemu/netns.hpp"

namespace vmctl::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* libvirt_socket = "/run/libvirt/libvirt-sock";

int take_lock() {
  const int fd = ::open(LibvirtHost::lock_file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(std::string("cannot open the libvirt test lock: ") + std::strerror(errno));
  // Another test's daemon may run for minutes: wait for it, but not forever.
  const auto deadline = std::chrono::steady_clock::now() + 15min;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::close(fd);
      throw std::runtime_error("another libvirt test held " + std::string(LibvirtHost::lock_file) + " for 15 min");
    }
    std::this_thread::sleep_for(100ms);
  }
  return fd;
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_file(const fs::path& file, const std::string& text, fs::perms perms = fs::perms(0644)) {
  std::ofstream(file) << text;
  fs::permissions(file, perms);
}

// The QEMU user must reach the pool (and the console log in it).
fs::path make_reachable_temp_dir() {
  std::string pattern = fmt::format("/tmp/vmctl-lv{}-XXXXXX", ::getpid());
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  const fs::path dir = pattern;
  fs::permissions(dir, fs::perms(0711));
  for (fs::path part = dir; part != part.root_path(); part = part.parent_path()) {
    if ((fs::status(part).permissions() & fs::perms::others_exec) == fs::perms::none) {
      throw std::runtime_error(part.string() + " is not o+x: the QEMU user could not reach the test pool");
    }
  }
  return dir;
}

std::optional<struct stat> open_up_kvm() {
  struct stat before {};
  if (::stat("/dev/kvm", &before) != 0) return std::nullopt;  // no KVM: TCG only
  const group* kvm = ::getgrnam("kvm");
  if (kvm == nullptr) throw std::runtime_error("there is no kvm group: run `make deps`");
  if (::chown("/dev/kvm", 0, kvm->gr_gid) != 0 || ::chmod("/dev/kvm", 0660) != 0) {
    throw std::runtime_error(std::string("cannot make /dev/kvm root:kvm 0660: ") + std::strerror(errno));
  }
  return before;
}

void restore_kvm(const struct stat& before) {
  if (::chown("/dev/kvm", before.st_uid, before.st_gid) != 0 || ::chmod("/dev/kvm", before.st_mode & 07777) != 0) {
    std::cerr << "libvirt_host: cannot restore /dev/kvm: " << std::strerror(errno) << "\n";
  }
}

bool socket_answers(const char* path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path, sizeof address.sun_path - 1);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

// libvirt keeps a log per domain it ran; the test's domains' logs go with them.
constexpr const char* qemu_logs = "/var/log/libvirt/qemu";

std::set<std::string> files_in(const fs::path& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) names.insert(entry.path().filename().string());
  return names;
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

LibvirtHost::LibvirtHost(LibvirtHostOptions options)
    : options_(options), netns_name_(fmt::format("vmctl-lv{}", ::getpid())) {
  lock_fd_ = take_lock();
  try {
    set_up();
  } catch (...) {
    std::cerr << "libvirt_host: set-up failed; log so far:\n" << log() << "\n";
    tear_down();
    throw;
  }
}

LibvirtHost::~LibvirtHost() { tear_down(); }

void LibvirtHost::set_up() {
  for (const auto& line : clean_up_killed_libvirt_runs()) std::cerr << "libvirt_host: " << line << "\n";
  dir_ = make_reachable_temp_dir();
  fs::create_directories(pool_dir());
  fs::permissions(pool_dir(), fs::perms(0711));
  kvm_before_ = open_up_kvm();
  ns_ = std::make_unique<NetworkNamespace>(netns_name_);
  ip_or_throw({"-n", netns_name_, "link", "set", "lo", "up"});
  write_state();
  start_virtlogd();
  start_libvirtd();
  // What a killed run left defined (its definitions outlive the daemon).
  for (const auto& name : domains()) {
    const std::string xml = virsh({"dumpxml", name}).out;
    if (xml.find("https://vmctl.dev/xmlns/libvirt/1") == std::string::npos &&
        xml.find(foreign_marker) == std::string::npos) {
      continue;
    }
    virsh({"destroy", name});
    virsh({"undefine", "--nvram", name});
    std::cerr << "libvirt_host: removed leftover test domain " << name << "\n";
  }
  domains_before_ = domains();
  qemu_logs_before_ = files_in(qemu_logs);
  define_network_and_pool();
  if (options_.sshd) start_sshd();
  write_state();
}

void LibvirtHost::write_state() const {
  std::string text = fmt::format("owner {}\n", ::getpid());
  for (const auto* process : {&virtlogd_, &libvirtd_, &sshd_}) {
    if (*process) text += fmt::format("pid {} {} daemon\n", (*process)->pid(), process_start_time((*process)->pid()));
  }
  if (pid_t pid = libvirtd_pid(); pid > 0) text += fmt::format("pid {} {} libvirtd\n", pid, process_start_time(pid));
  if (kvm_before_) {
    text += fmt::format("kvm {} {} {:o}\n", kvm_before_->st_uid, kvm_before_->st_gid, kvm_before_->st_mode & 07777);
  }
  text += fmt::format("dir {}\n", dir_.string());
  write_file(state_file, text);
}

void LibvirtHost::start_virtlogd() {
  // virtlogd writes its own log there and refuses to start without it.
  fs::create_directories("/var/log/libvirt");
  // In the foreground, so that its pid is the one we started.
  virtlogd_ = std::make_unique<BackgroundProcess>(in_netns({"virtlogd"}), dir_ / "virtlogd.log");
}

void LibvirtHost::start_libvirtd() {
  libvirtd_ = std::make_unique<BackgroundProcess>(in_netns({"tini", "-s", "--", "libvirtd"}), dir_ / "libvirtd.log");
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  // A killed daemon leaves its socket file: wait until a new one accepts.
  while (!socket_answers(libvirt_socket)) {
    if (!libvirtd_->running()) throw std::runtime_error("libvirtd exited at start:\n" + log());
    if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("libvirtd did not listen in 60 s");
    std::this_thread::sleep_for(20ms);
  }
  const auto answer = virsh({"uri"});
  if (answer.exit_code != 0) throw std::runtime_error("libvirtd does not answer: " + answer.err + "\n" + log());
  if (lock_fd_ >= 0 && !dir_.empty()) write_state();
}

void LibvirtHost::define_network_and_pool() {
  const fs::path network = dir_ / "network.xml";
  write_file(network, fmt::format(
                          "<network><name>default</name><forward mode='nat'/>"
                          "<bridge name='{}' stp='off' delay='0'/>"
                          "<ip address='{}' netmask='255.255.255.0'>"
                          "<dhcp><range start='192.168.150.10' end='192.168.150.200'/></dhcp></ip></network>\n",
                          bridge, gateway));
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"net-create", network.string()},
        std::vector<std::string>{"pool-create-as", "default", "dir", "--target", pool_dir().string()}}) {
    const auto result = virsh(args);
    if (result.exit_code != 0) throw std::runtime_error("virsh " + args[0] + " failed: " + trimmed(result.err));
  }
}

std::vector<std::string> LibvirtHost::in_netns(const std::vector<std::string>& argv) const {
  std::vector<std::string> full{"ip", "netns", "exec", netns_name_};
  full.insert(full.end(), argv.begin(), argv.end());
  return full;
}

ProcessResult LibvirtHost::virsh(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"virsh", "-q", "-c", local_uri};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv, ProcessOptions{{}, 60s});
}

std::set<std::string> LibvirtHost::domains() const {
  const auto result = virsh({"list", "--all", "--name"});
  if (result.exit_code != 0) throw std::runtime_error("virsh list failed: " + result.err);
  std::set<std::string> names;
  std::istringstream in(result.out);
  for (std::string name; std::getline(in, name);) {
    if (!name.empty()) names.insert(name);
  }
  return names;
}

std::set<std::string> LibvirtHost::vm_volumes() const {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(pool_dir(), ec)) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("vmctl-base-")) names.insert(name);
  }
  return names;
}

void LibvirtHost::enter_netns() { ns_->enter(); }

pid_t LibvirtHost::libvirtd_pid() const {
  if (!libvirtd_) return 0;
  std::ifstream in(fmt::format("/proc/{}/task/{}/children", libvirtd_->pid(), libvirtd_->pid()));
  pid_t child = 0;
  in >> child;  // tini's only child is libvirtd
  return child;
}

void LibvirtHost::kill_libvirtd() {
  const pid_t pid = libvirtd_pid();
  if (pid <= 0) throw std::runtime_error("libvirtd does not run");
  ::kill(pid, SIGKILL);
  // tini exits with its child; reap it so that the next start is clean.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (libvirtd_->running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  libvirtd_->stop();
}

std::string LibvirtHost::log() const {
  std::string text;
  for (const char* name : {"libvirtd.log", "virtlogd.log", "sshd.log"}) {
    if (!dir_.empty() && fs::exists(dir_ / name)) text += fmt::format("--- {}\n{}", name, read_file(dir_ / name));
  }
  return text;
}

void LibvirtHost::tear_down() noexcept {
  try {
    if (libvirtd_ && libvirtd_->running()) {
      for (const auto& name : domains()) {
        if (domains_before_.count(name) != 0) continue;
        virsh({"destroy", name});
        virsh({"undefine", "--nvram", "--managed-save", "--snapshots-metadata", name});
      }
      // A network outlives its daemon (dnsmasq runs on): stop it first.
      virsh({"net-destroy", "default"});
      virsh({"pool-destroy", "default"});
    }
  } catch (const std::exception& error) {
    std::cerr << "libvirt_host: tear-down: " << error.what() << "\n";
  }
  sshd_.reset();
  libvirtd_.reset();  // SIGTERM to tini, which passes it to libvirtd
  virtlogd_.reset();
  if (ns_) {
    // Anything still inside was started by this harness's daemons.
    for (pid_t pid : ns_->pids()) ::kill(pid, SIGKILL);
    ns_.reset();
  }
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
  if (qemu_logs_before_) {
    for (const auto& name : files_in(qemu_logs)) {
      if (qemu_logs_before_->count(name) == 0) fs::remove(fs::path(qemu_logs) / name, ec);
    }
  }
  if (kvm_before_) restore_kvm(*kvm_before_);
  kvm_before_.reset();
  fs::remove(state_file, ec);
  if (lock_fd_ >= 0) ::close(lock_fd_);
  lock_fd_ = -1;
}

}  // namespace vmctl::test
