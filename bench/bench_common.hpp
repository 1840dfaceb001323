// What both benchmarks (vmctl_bench, libvirt_bench) need: timing whole
// processes, medians, and the rows of the table they print.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace vmctl::bench {

double median(std::vector<double> v);

// `vmctl -q --data-dir DATA ARGS…`, quiet, on the bench's own data dir.
std::vector<std::string> vmctl_command(const std::string& vmctl, const std::filesystem::path& data,
                                       std::vector<std::string> args);
// Runs it (up to 5 minutes); throws with its stderr when it fails.
void run_vmctl(const std::string& vmctl, const std::filesystem::path& data, std::vector<std::string> args);

// Starts argv[0] (a path: no PATH search to time) with our environment. Its
// stdout goes to /dev/null, so what it prints neither mixes into the table
// nor waits on a reader; its stderr stays ours, so failures explain themselves.
pid_t spawn(std::vector<std::string> argv);

// Waits for a child of ours; true when it exited with status 0.
bool succeeded(pid_t child);

// A whole process, from spawn to exit, in ms; throws when it fails.
double timed_process(std::vector<std::string> argv);

// A row without a target is information, with no verdict.
void print_row(const std::string& what, double value, const std::string& floor, const std::string& ratio,
               const std::string& target, bool met);

// Samples of ours and of its floor, taken in turn.
struct Paired {
  std::vector<double> ours;
  std::vector<double> floor;
};

// ours, floor, ours, floor… in one process: whatever else the machine does
// meanwhile (another build, a guest's timer) falls on both alike.
Paired alternate(int runs, const std::function<double()>& ours, const std::function<double()>& floor);

// A row of ours against its floor, the target a ratio of medians.
void print_ratio_row(const std::string& what, const Paired& p, double max_ratio);

}  // namespace vmctl::bench
