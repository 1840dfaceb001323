#include "backends/qemu/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace vmctl::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string comm_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm;
}

std::vector<pid_t> netns_pids(const std::string& name) {
  std::vector<pid_t> pids;
  auto out = ip({"netns", "pids", name});
  std::istringstream in(out.out);
  for (long pid = 0; in >> pid;) {
    if (pid != ::getpid()) pids.push_back(static_cast<pid_t>(pid));
  }
  return pids;
}

}  // namespace

std::uint64_t netns_inode(const fs::path& ns_file) {
  struct stat st {};
  if (::stat(ns_file.c_str(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_ino);
}

std::uint64_t current_netns_inode() { return netns_inode("/proc/thread-self/ns/net"); }

vm_manager::os::ProcessOutput ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return vm_manager::os::run_process(argv, 10s);
}

vm_manager::os::ProcessOutput ip_or_throw(const std::vector<std::string>& args) {
  auto out = ip(args);
  if (!out.ok()) {
    std::vector<std::string> argv{"ip"};
    argv.insert(argv.end(), args.begin(), args.end());
    throw std::runtime_error(vm_manager::os::describe(argv) + " failed: " + trimmed(out.err));
  }
  return out;
}

NetworkNamespace::NetworkNamespace(std::string name) : name_(std::move(name)) {
  ip_or_throw({"netns", "add", name_});
  inode_ = netns_inode(file());
  if (inode_ == 0) {
    ip({"netns", "delete", name_});
    throw std::runtime_error("ip netns add " + name_ + " left no " + file().string());
  }
}

NetworkNamespace::~NetworkNamespace() { remove(); }

void NetworkNamespace::enter() {
  if (entered_) return;
  origin_inode_ = current_netns_inode();
  origin_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (origin_fd_ < 0) throw std::runtime_error(std::string("cannot open our own netns: ") + std::strerror(errno));
  int fd = ::open(file().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + file().string() + ": " + std::strerror(errno));
  int rc = ::setns(fd, CLONE_NEWNET);
  int err = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("setns(" + file().string() + ") failed: " + std::strerror(err));
  entered_ = true;
  if (!inside()) {
    leave();
    throw std::runtime_error("after setns the thread is not in " + name_);
  }
}

bool NetworkNamespace::inside() const {
  std::uint64_t now = current_netns_inode();
  return entered_ && inode_ != 0 && now == inode_ && now != origin_inode_ &&
         // /proc/self follows the main thread: it must agree (this is the main thread).
         netns_inode("/proc/self/ns/net") == inode_;
}

void NetworkNamespace::leave() {
  if (!entered_) return;
  if (::setns(origin_fd_, CLONE_NEWNET) == 0) entered_ = false;
  ::close(origin_fd_);
  origin_fd_ = -1;
}

std::vector<pid_t> NetworkNamespace::pids() const { return netns_pids(name_); }

bool NetworkNamespace::remove() {
  if (removed_) return true;
  leave();
  ip({"netns", "delete", name_});
  removed_ = !fs::exists(file());
  return removed_;
}

std::vector<std::string> remove_stale_namespaces(const std::string& prefix) {
  std::vector<std::string> done;
  std::error_code ec;
  const std::regex ours("^" + prefix + "([0-9]+)$");
  for (const auto& entry : fs::directory_iterator("/run/netns", ec)) {
    std::string name = entry.path().filename().string();
    std::smatch m;
    if (!std::regex_match(name, m, ours)) continue;
    pid_t owner = static_cast<pid_t>(std::stol(m[1].str()));
    if (owner == ::getpid() || ::kill(owner, 0) == 0 || errno != ESRCH) continue;  // its test still runs
    for (pid_t pid : netns_pids(name)) {
      std::string comm = comm_of(pid);
      if (comm.rfind("qemu-system", 0) == 0 || comm == "dnsmasq") {
        ::kill(pid, SIGKILL);
        done.push_back("killed leftover " + comm + " (pid " + std::to_string(pid) + ") in " + name);
      }
    }
    ip({"netns", "delete", name});
    done.push_back("deleted stale namespace " + name);
  }
  return done;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv, const fs::path& log) {
  if (argv.empty()) throw std::invalid_argument("BackgroundProcess: empty argv");
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls.
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::string log_path = log.string();
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);  // the parent died before prctl
    int null = ::open("/dev/null", O_RDONLY);
    int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (null < 0 || out < 0) ::_exit(126);
    ::dup2(null, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execvp(cargv[0], cargv.data());
    ::_exit(127);
  }
  pid_ = pid;
}

BackgroundProcess::~BackgroundProcess() { stop(); }

bool BackgroundProcess::running() {
  if (pid_ <= 0 || reaped_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_ || (r < 0 && errno == ECHILD)) {
    reaped_ = true;
    return false;
  }
  return true;
}

bool BackgroundProcess::stop(std::chrono::milliseconds grace) {
  if (!running()) return true;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (running() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  if (running()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    reaped_ = true;
  }
  return !running();
}

}  // namespace vmctl::test
