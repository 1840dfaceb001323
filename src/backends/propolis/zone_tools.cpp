// zfs, dladm, zonecfg and zoneadm for one VM, always as argv vectors.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <utility>

#include <fmt/format.h>

#include "backends/propolis/zone_tools.hpp"
#include "util/printable.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::propolis {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kHelp =
    "Check the host's datasets, VNICs and zones with 'zfs list', 'dladm show-vnic' and 'zoneadm list -cv'.";

// What a failed tool said is quoted up to this length: a brand hook's reason
// comes after zoneadm's prefixes, and must not be cut off.
constexpr std::size_t kMaxQuotedOutput = 400;

// The tools' stderr on one line: lines joined with "; ", trailing blanks dropped.
std::string one_line(std::string_view text) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (!line.empty()) out += (out.empty() ? "" : "; ") + std::string(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return out;
}

bool contains(std::string_view text, std::string_view part) { return text.find(part) != std::string_view::npos; }

// A zonecfg command file in $TMPDIR, removed when done with.
class TempCommandFile {
 public:
  explicit TempCommandFile(const std::string& content) {
    std::string pattern = (fs::temp_directory_path() / "vmctl-zonecfg-XXXXXX").string();
    int fd = ::mkstemp(pattern.data());
    if (fd < 0) {
      throw Error(errc::propolis_tool_failed,
                  fmt::format("cannot create a zonecfg command file in {}: {}",
                              fs::temp_directory_path().string(), std::strerror(errno)),
                  "Set TMPDIR to a writable folder.");
    }
    path_ = pattern;
    std::size_t done = 0;
    while (done < content.size()) {
      ssize_t n = ::write(fd, content.data() + done, content.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int err = errno;
        ::close(fd);
        throw Error(errc::propolis_tool_failed,
                    fmt::format("cannot write the zonecfg command file {}: {}", path_, std::strerror(err)),
                    "Check the free space in TMPDIR.");
      }
      done += static_cast<std::size_t>(n);
    }
    ::close(fd);
  }
  ~TempCommandFile() {
    std::error_code ec;
    fs::remove(path_, ec);
  }
  TempCommandFile(const TempCommandFile&) = delete;
  TempCommandFile& operator=(const TempCommandFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs the undo steps newest first. They log rather than throw, so the
// original failure is the one the caller sees.
void roll_back(std::vector<std::function<void()>>& undo, const Logger& log) {
  for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
    try {
      (*it)();
    } catch (const std::exception& e) {
      log.warn("undoing a failed zone create: {}", e.what());
    }
  }
}

}  // namespace

std::string describe_failure(const std::vector<std::string>& argv, const os::ProcessOutput& out) {
  std::string command = os::describe(argv);
  if (out.timed_out) return fmt::format("{} timed out", command);
  std::string err = one_line(out.err);
  if (err.empty()) err = one_line(out.out);
  std::string status = out.signal != 0 ? fmt::format("killed by signal {}", out.signal)
                                       : fmt::format("failed (exit status {})", out.exit_code);
  return err.empty() ? fmt::format("{} {}", command, status)
                     : fmt::format("{} {}: \"{}\"", command, status, util::printable(err, kMaxQuotedOutput));
}

ZoneTools::ZoneTools(CommandRunner& runner, std::chrono::milliseconds timeout, Logger log)
    : runner_(runner), timeout_(timeout), log_(std::move(log)) {}

os::ProcessOutput ZoneTools::run(const std::vector<std::string>& argv) {
  log_.debug("running {}", os::describe(argv));
  return runner_.run(argv, timeout_);
}

void ZoneTools::run_checked(const std::vector<std::string>& argv) {
  auto out = run(argv);
  if (!out.ok()) throw Error(errc::propolis_tool_failed, describe_failure(argv, out), std::string(kHelp));
}

void ZoneTools::create(const ZoneLayout& l) {
  validate_zone_layout(l);
  std::vector<std::function<void()>> undo;
  try {
    // -p: makes <pool>/vms the first time.
    run_checked({"zfs", "clone", "-p", fmt::format("{}/images/{}@{}", l.pool, l.image, l.snapshot), l.dataset});
    undo.emplace_back([this, &l] { destroy_dataset(l.dataset); });
    if (l.disk_gb) run_checked({"zfs", "set", fmt::format("volsize={}G", *l.disk_gb), l.dataset});
    if (!l.data_disks.empty()) undo.emplace_back([this, &l] { destroy_dataset(data_disk_parent(l)); });
    for (const auto& d : l.data_disks) {
      // -s: sparse, as the qemu backend's qcow2 data disks are: space is
      // taken as the guest writes. -p: makes the VM's own parent folder.
      run_checked({"zfs", "create", "-p", "-s", "-V", fmt::format("{}G", d.size_gb), d.dataset});
    }
    for (std::size_t i = 0; i <= l.guest_vnics.size(); ++i) {
      bool api = i == l.guest_vnics.size();
      const std::string& vnic = api ? l.api_vnic : l.guest_vnics[i];
      std::vector<std::string> argv = {"dladm", "create-vnic", "-l", l.physical_link};
      if (!api && !l.guest_macs.empty()) argv.insert(argv.end(), {"-m", l.guest_macs[i]});
      argv.push_back(vnic);
      run_checked(argv);
      undo.emplace_back([this, vnic] { delete_vnic(vnic); });
    }
    configure_zone(l);
    // Removing the zone also uninstalls it when a failed install left it
    // installed or incomplete.
    undo.emplace_back([this, &l] { remove_zone(l.zone_name); });
    run_checked({"zoneadm", "-z", l.zone_name, "install"});
  } catch (...) {
    roll_back(undo, log_);
    throw;
  }
}

void ZoneTools::configure_zone(const ZoneLayout& l) {
  TempCommandFile file(zonecfg_command_file(l));
  run_checked({"zonecfg", "-z", l.zone_name, "-f", file.path()});
}

void ZoneTools::boot(const ZoneLayout& l) {
  validate_zone_layout(l);
  run_checked({"zoneadm", "-z", l.zone_name, "boot"});
}

void ZoneTools::halt(const ZoneLayout& l) {
  validate_zone_layout(l);
  run_checked({"zoneadm", "-z", l.zone_name, "halt"});
}

void ZoneTools::destroy(const ZoneLayout& l) {
  validate_zone_layout(l);
  std::exception_ptr first;
  auto attempt = [this, &first](const std::function<void()>& step) {
    try {
      step();
    } catch (const std::exception& e) {
      // Later parts may still go (a VNIC whose zone is gone); the first
      // failure is usually the cause of the rest.
      log_.warn("destroying a zone: {}", e.what());
      if (!first) first = std::current_exception();
    }
  };
  attempt([&] { remove_zone(l.zone_name); });
  attempt([&] { delete_vnic(l.api_vnic); });
  for (auto it = l.guest_vnics.rbegin(); it != l.guest_vnics.rend(); ++it) attempt([&] { delete_vnic(*it); });
  attempt([&] { destroy_dataset(l.dataset); });
  if (!l.data_disks.empty()) attempt([&] { destroy_dataset(data_disk_parent(l)); });
  if (first) std::rethrow_exception(first);
}

std::string ZoneTools::zone_state(const std::string& zone) {
  std::vector<std::string> argv{"zoneadm", "-z", zone, "list", "-p"};
  auto out = run(argv);
  if (!out.ok()) {
    if (!out.timed_out && contains(out.err, "No such zone configured")) return "";
    throw Error(errc::propolis_tool_failed, describe_failure(argv, out), std::string(kHelp));
  }
  // zoneid:zonename:state:zonepath:uuid:brand:ip-type — the first three
  // fields never contain ':'.
  std::string_view line(out.out);
  line = line.substr(0, line.find('\n'));
  auto c1 = line.find(':');
  auto c2 = c1 == std::string_view::npos ? c1 : line.find(':', c1 + 1);
  auto c3 = c2 == std::string_view::npos ? c2 : line.find(':', c2 + 1);
  if (c3 == std::string_view::npos || line.substr(c1 + 1, c2 - c1 - 1) != zone) {
    throw Error(errc::propolis_tool_failed,
                fmt::format("{} printed \"{}\", not a line for zone {}", os::describe(argv), util::printable(line), zone),
                std::string(kHelp));
  }
  return std::string(line.substr(c2 + 1, c3 - c2 - 1));
}

// Takes the zone down as far as needed from whatever state it is in.
namespace {

constexpr std::string_view kSnapshotHelp = "Check the VM's volumes and their snapshots with 'zfs list -t all -r'.";

[[noreturn]] void snapshot_failed(const std::vector<std::string>& argv, const os::ProcessOutput& out) {
  throw Error(errc::snapshot_failed, describe_failure(argv, out), std::string(kSnapshotHelp));
}

template <typename T>
T parse_number(std::string_view text, const std::vector<std::string>& argv) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    throw Error(errc::propolis_tool_failed,
                fmt::format("{} printed \"{}\", not a number", os::describe(argv), util::printable(text)),
                std::string(kHelp));
  }
  return value;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    auto at = text.find(sep, start);
    out.push_back(text.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

}  // namespace

void ZoneTools::snapshot(const ZoneLayout& l, const std::string& name) {
  validate_zone_layout(l);
  std::vector<std::string> argv{"zfs", "snapshot"};
  for (const auto& dataset : disk_datasets(l)) argv.push_back(dataset + "@" + name);
  auto out = run(argv);
  if (out.ok()) return;
  if (!out.timed_out && contains(out.err, "dataset already exists")) {
    throw Error(errc::snapshot_already_exists,
                fmt::format("VM '{}' already has a snapshot '{}' ({})", l.vm_name, name, one_line(out.err)),
                "choose another name, or delete that snapshot first");
  }
  snapshot_failed(argv, out);
}

std::vector<ZoneTools::VolumeSnapshot> ZoneTools::snapshots(const std::string& dataset) {
  // -d 1 of a volume: its snapshots only (a volume has no children).
  std::vector<std::string> argv{"zfs", "list", "-H", "-p", "-t", "snapshot", "-d", "1",
                                "-o", "name,createtxg,creation,volsize", dataset};
  auto out = run(argv);
  if (!out.ok()) snapshot_failed(argv, out);
  std::vector<VolumeSnapshot> result;
  for (std::string_view line : split(out.out, '\n')) {
    if (line.empty()) continue;
    auto fields = split(line, '\t');
    std::string_view full = fields[0];
    if (fields.size() != 4 || !full.starts_with(dataset + "@")) {
      throw Error(errc::propolis_tool_failed,
                  fmt::format("{} printed \"{}\", not a snapshot of {}", os::describe(argv), util::printable(line),
                              dataset),
                  std::string(kHelp));
    }
    result.push_back({std::string(full.substr(dataset.size() + 1)), parse_number<std::uint64_t>(fields[1], argv),
                      parse_number<std::int64_t>(fields[2], argv), parse_number<std::uint64_t>(fields[3], argv)});
  }
  std::stable_sort(result.begin(), result.end(),
                   [](const VolumeSnapshot& a, const VolumeSnapshot& b) { return a.createtxg < b.createtxg; });
  return result;
}

void ZoneTools::rollback(const ZoneLayout& l, const std::string& name) {
  validate_zone_layout(l);
  for (const auto& dataset : disk_datasets(l)) {
    std::vector<std::string> argv{"zfs", "rollback", "-r", dataset + "@" + name};
    auto out = run(argv);
    if (!out.ok()) snapshot_failed(argv, out);
  }
}

void ZoneTools::destroy_snapshot(const ZoneLayout& l, const std::string& name) {
  validate_zone_layout(l);
  for (const auto& dataset : disk_datasets(l)) {
    std::vector<std::string> argv{"zfs", "destroy", dataset + "@" + name};
    auto out = run(argv);
    // A data disk without it (a snapshot taken by hand of the root disk).
    if (out.ok() || (!out.timed_out && contains(out.err, "could not find any snapshots to destroy"))) continue;
    snapshot_failed(argv, out);
  }
}

std::uint64_t ZoneTools::volsize(const std::string& dataset) {
  std::vector<std::string> argv{"zfs", "get", "-H", "-p", "-o", "value", "volsize", dataset};
  auto out = run(argv);
  if (!out.ok()) throw Error(errc::propolis_tool_failed, describe_failure(argv, out), std::string(kHelp));
  std::string_view text(out.out);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  return parse_number<std::uint64_t>(text, argv);
}

void ZoneTools::set_volsize(const std::string& dataset, std::uint64_t gb) {
  run_checked({"zfs", "set", fmt::format("volsize={}G", gb), dataset});
}

void ZoneTools::remove_zone(const std::string& zone) {
  std::string state = zone_state(zone);
  if (state.empty()) return;
  if (state == "running" || state == "ready" || state == "shutting_down" || state == "down") {
    run_checked({"zoneadm", "-z", zone, "halt"});
    state = "installed";
  }
  // -F: uninstall asks for confirmation on stdin otherwise.
  if (state == "installed" || state == "incomplete") run_checked({"zoneadm", "-z", zone, "uninstall", "-F"});
  run_checked({"zonecfg", "-z", zone, "delete", "-F"});
}

void ZoneTools::delete_vnic(const std::string& vnic) {
  std::vector<std::string> argv{"dladm", "delete-vnic", vnic};
  auto out = run(argv);
  // "vnic deletion failed: object not found": already gone.
  if (out.ok() || (!out.timed_out && contains(out.err, "not found"))) return;
  throw Error(errc::propolis_tool_failed, describe_failure(argv, out), std::string(kHelp));
}

void ZoneTools::destroy_dataset(const std::string& dataset) {
  // -r: snapshots of the VM's volume go with it.
  std::vector<std::string> argv{"zfs", "destroy", "-r", dataset};
  auto out = run(argv);
  if (out.ok() || (!out.timed_out && contains(out.err, "dataset does not exist"))) return;
  throw Error(errc::propolis_tool_failed, describe_failure(argv, out), std::string(kHelp));
}

}  // namespace vm_manager::propolis
