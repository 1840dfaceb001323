// Undoing a LibvirtHost run that was killed before its destructor ran.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "backends/libvirt/libvirt_host.hpp"
#include "backends/qemu/netns.hpp"

namespace vmctl::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::string stat_fields(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(in, text);
  // The command name (field 2) may hold blanks; the fields after ')' do not.
  auto close = text.rfind(')');
  return close == std::string::npos ? std::string() : text.substr(close + 2);
}

// Gone, or a zombie that only waits for its (late) reaper.
bool gone(pid_t pid) {
  std::string rest = stat_fields(pid);
  return rest.empty() || rest[0] == 'Z';
}

void kill_and_wait(pid_t pid) {
  ::kill(pid, SIGKILL);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  // No event tells us that a process we are not the parent of ended.
  while (!gone(pid) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
}

bool owner_gone(pid_t owner) { return owner != ::getpid() && ::kill(owner, 0) != 0 && errno == ESRCH; }

std::vector<pid_t> pids_in(const std::string& netns) {
  std::vector<pid_t> pids;
  std::istringstream in(ip({"netns", "pids", netns}).out);
  for (long pid = 0; in >> pid;) {
    if (pid != ::getpid()) pids.push_back(static_cast<pid_t>(pid));
  }
  return pids;
}

// Every process in the namespace was started by its (dead) test: by
// libvirtd, QEMU and dnsmasq included.
void remove_namespace(const std::string& name, std::vector<std::string>& done) {
  for (pid_t pid : pids_in(name)) {
    kill_and_wait(pid);
    done.push_back("killed pid " + std::to_string(pid) + " left in " + name);
  }
  ip({"netns", "delete", name});
  done.push_back("deleted namespace " + name);
}

// The state file of a killed run: its daemons (pid and start time) and /dev/kvm's old mode.
void undo_state_file(std::vector<std::string>& done) {
  std::ifstream in(LibvirtHost::state_file);
  if (!in) return;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    if (key == "owner") {
      pid_t owner = 0;
      fields >> owner;
      if (!owner_gone(owner)) throw std::runtime_error("the libvirt test harness of pid " + std::to_string(owner) +
                                                       " still runs, though this one holds the lock");
    } else if (key == "pid") {
      pid_t pid = 0;
      unsigned long long start = 0;
      std::string what;
      fields >> pid >> start >> what;
      if (pid > 0 && start != 0 && process_start_time(pid) == start) {
        kill_and_wait(pid);
        done.push_back("killed leftover " + what + " (pid " + std::to_string(pid) + ")");
      }
    } else if (key == "kvm") {
      unsigned uid = 0, gid = 0, mode = 0;
      fields >> uid >> gid >> std::oct >> mode;
      if (::chown("/dev/kvm", uid, gid) == 0 && ::chmod("/dev/kvm", mode & 07777) == 0) {
        done.push_back("restored /dev/kvm's owner and mode");
      }
    } else if (key == "dir") {
      std::string dir;
      fields >> dir;
      std::error_code ec;
      if (!dir.empty() && fs::remove_all(dir, ec) > 0) done.push_back("removed " + dir);
    }
  }
  fs::remove(LibvirtHost::state_file);
}

void sweep_namespaces(std::vector<std::string>& done) {
  std::error_code ec;
  const std::regex ours("^vmctl-lv([0-9]+)$");
  for (const auto& entry : fs::directory_iterator("/run/netns", ec)) {
    const std::string name = entry.path().filename().string();
    std::smatch m;
    if (std::regex_match(name, m, ours) && owner_gone(static_cast<pid_t>(std::stol(m[1].str())))) {
      remove_namespace(name, done);
    }
  }
}

void sweep_temp_dirs(std::vector<std::string>& done) {
  std::error_code ec;
  const std::regex ours("^vmctl-lv([0-9]+)-.*$");
  for (const auto& entry : fs::directory_iterator("/tmp", ec)) {
    const std::string name = entry.path().filename().string();
    std::smatch m;
    if (std::regex_match(name, m, ours) && owner_gone(static_cast<pid_t>(std::stol(m[1].str())))) {
      fs::remove_all(entry.path(), ec);
      done.push_back("removed " + entry.path().string());
    }
  }
}

pid_t pid_from_file(const fs::path& file) {
  std::ifstream in(file);
  long pid = 0;
  in >> pid;
  return static_cast<pid_t>(pid);
}

}  // namespace

unsigned long long process_start_time(pid_t pid) {
  std::istringstream fields(stat_fields(pid));
  std::string field;
  // After "pid (comm) ", the state is field 3: field 22 is the 20th here.
  for (int i = 3; i <= 22 && fields >> field; ++i) {
    if (i == 22) return std::stoull(field);
  }
  return 0;
}

std::vector<std::string> clean_up_killed_libvirt_runs() {
  std::vector<std::string> done;
  undo_state_file(done);
  sweep_namespaces(done);
  sweep_temp_dirs(done);
  const pid_t libvirtd = pid_from_file("/run/libvirtd.pid");
  if (libvirtd > 0 && !gone(libvirtd)) {
    throw std::runtime_error("a libvirtd this harness did not start runs (pid " + std::to_string(libvirtd) +
                             ", /run/libvirtd.pid); the libvirt tests need the machine's only libvirtd: stop it");
  }
  // The status of the dead daemon's transient network and pool: their
  // bridge and dnsmasq died with the namespace.
  for (const char* status : {"/run/libvirt/network/default.xml", "/run/libvirt/storage/default.xml"}) {
    if (fs::remove(status)) done.push_back(std::string("removed stale ") + status);
  }
  return done;
}

}  // namespace vmctl::test
