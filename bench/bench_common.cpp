#include "bench_common.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <stdexcept>

#include <fmt/format.h>

#include "os/process.hpp"

extern char** environ;

namespace vmctl::bench {

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::duration<double, std::milli>;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

std::vector<std::string> vmctl_command(const std::string& vmctl, const std::filesystem::path& data,
                                       std::vector<std::string> args) {
  args.insert(args.begin(), {vmctl, "-q", "--data-dir", data.string()});
  return args;
}

void run_vmctl(const std::string& vmctl, const std::filesystem::path& data, std::vector<std::string> args) {
  auto out = vm_manager::os::run_process(vmctl_command(vmctl, data, std::move(args)), std::chrono::seconds(300));
  if (!out.ok()) throw std::runtime_error("vmctl failed: " + out.err);
}

pid_t spawn(std::vector<std::string> argv) {
  std::vector<char*> c_argv;
  for (auto& a : argv) c_argv.push_back(a.data());
  c_argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t child = 0;
  const int error = ::posix_spawn(&child, c_argv[0], &actions, nullptr, c_argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw std::runtime_error("cannot run " + vm_manager::os::describe(argv));
  return child;
}

bool succeeded(pid_t child) {
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

double timed_process(std::vector<std::string> argv) {
  const std::string what = vm_manager::os::describe(argv);
  auto begin = Clock::now();
  const bool ok = succeeded(spawn(std::move(argv)));
  double took = Ms(Clock::now() - begin).count();
  if (!ok) throw std::runtime_error(what + " failed");
  return took;
}

void print_row(const std::string& what, double value, const std::string& floor, const std::string& ratio,
               const std::string& target, bool met) {
  const char* verdict = target.empty() ? "" : met ? "ok" : "MISSED";
  std::printf("%-34s %10.1f ms %12s %8s   %-14s %s\n", what.c_str(), value, floor.c_str(), ratio.c_str(),
              target.c_str(), verdict);
}

Paired alternate(int runs, const std::function<double()>& ours, const std::function<double()>& floor) {
  Paired p;
  for (int i = 0; i < runs; ++i) {
    p.ours.push_back(ours());
    p.floor.push_back(floor());
  }
  return p;
}

void print_ratio_row(const std::string& what, const Paired& p, double max_ratio) {
  const double ratio = median(p.ours) / median(p.floor);
  print_row(what, median(p.ours), fmt::format("{:.1f} ms", median(p.floor)), fmt::format("{:.2f}x", ratio),
            fmt::format("<= {:.2f}x", max_ratio), ratio <= max_ratio);
}

}  // namespace vmctl::bench
