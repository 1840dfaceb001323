#include "vm_manager/store.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <ctime>
#include <utility>

#include <fmt/format.h>

#include "os/file_lock.hpp"
#include "os/files.hpp"
#include "os/proc.hpp"
#include "util/printable.hpp"
#include "util/rollback.hpp"
#include "util/uuid.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/json.hpp"
#include "vm_manager/names.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager {
namespace fs = std::filesystem;
using nlohmann::json;
namespace {

// 1: every backend's fields flat in the handle; 2: those in backend_state.
constexpr int kRecordFormat = 2;

// This boot's version of vm.json (store.hpp).
constexpr const char* kRunFile = "run.json";

// Records are read bounded, as anything on disk may have been swapped for a
// FIFO, /dev/zero or a huge file. The bound follows from the user-data cap:
// JSON escaping makes each byte of user-data at most six ("\u0001").
constexpr std::size_t kMaxRecordBytes = 6 * kMaxUserDataBytes + 1024 * 1024;


std::string now_rfc3339() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buffer;
}

std::string record_to_text(const VmRecord& record) {
  json j{{"format", kRecordFormat},
         {"created_at", record.created_at},
         {"handle", record.handle},
         {"spec", record.spec}};
  return j.dump(2) + "\n";
}

[[noreturn]] void corrupt(const fs::path& path, std::string_view why) {
  throw Error(errc::store_corrupt, fmt::format("{} is unreadable: {}", path.string(), why),
              "restore it from a backup, or destroy the VM");
}

// Format 1 kept each backend's fields flat in the handle (pid, qmp_socket,
// zone_name…) and propolis's one option in the spec. Format 2 keeps in the
// handle only what a VmHandle has; every other key moves, as it was, into
// backend_state.data at version 1, which is the shape each backend reads its
// state in (backends name their fields as format 1 did). The store need not
// know which backend owns which key: a backend reads its own and ignores the
// rest, and its next save writes only its own.
void move_backend_fields(json& handle) {
  if (!handle.is_object() || handle.contains("backend_state")) return;
  const json shared = VmHandle{};
  json data = json::object();
  for (auto it = handle.begin(); it != handle.end();) {
    if (shared.contains(it.key())) {
      ++it;
    } else {
      data[it.key()] = *it;
      it = handle.erase(it);
    }
  }
  handle["backend_state"] = json{{"version", 1}, {"data", std::move(data)}};
}

// The spec's format-1 keys a VmSpec no longer has were backend settings
// ("propolis_api"); set ones become backend_options.
void move_backend_options(json& spec) {
  if (!spec.is_object() || spec.contains("backend_options")) return;
  const json known = VmSpec{};
  json options = json::object();
  for (auto it = spec.begin(); it != spec.end();) {
    if (known.contains(it.key())) {
      ++it;
    } else {
      if (!it->is_null()) options[it.key()] = *it;
      it = spec.erase(it);
    }
  }
  spec["backend_options"] = std::move(options);
}

void migrate_from_format_1(json& record) {
  if (auto it = record.find("handle"); it != record.end()) move_backend_fields(*it);
  if (auto it = record.find("spec"); it != record.end()) move_backend_options(*it);
}

// Brings a record of an older format up to today's, so that the rest of the
// library sees only one shape; refuses one from a newer release, which may
// hold what this one would lose on its next save.
json migrated(json j, const fs::path& path) {
  int format = 1;  // the first releases wrote no "format"
  if (auto it = j.find("format"); it != j.end()) {
    if (!it->is_number_integer()) corrupt(path, "its \"format\" is not a whole number");
    format = it->get<int>();
  }
  if (format > kRecordFormat) {
    throw Error(errc::store_unsupported_format,
                fmt::format("{} is record format {}, newer than this vm-manager reads ({})", path.string(), format,
                            kRecordFormat),
                "use the release of vm-manager that wrote it, or a newer one");
  }
  if (format < 1) corrupt(path, fmt::format("there is no record format {}", format));
  if (format == 1) migrate_from_format_1(j);
  return j;
}

VmRecord record_from_text(const std::string& text, const fs::path& path) {
  try {
    json j = migrated(json::parse(text), path);
    VmRecord record;
    record.handle = j.at("handle").get<VmHandle>();
    if (auto it = j.find("spec"); it != j.end() && !it->is_null()) record.spec = it->get<VmSpec>();
    if (auto it = j.find("created_at"); it != j.end() && it->is_string()) record.created_at = *it;
    return record;
  } catch (const json::exception& e) {
    corrupt(path, e.what());
  }
}

// The record file's text; nullopt when there is none. What is not a regular
// file of a sane size is corrupt.
std::optional<std::string> read_record(const fs::path& path) {
  try {
    return os::read_regular_file(path, kMaxRecordBytes, "VM record");
  } catch (const Error& e) {
    if (e.code() == errc::input_not_found) return std::nullopt;
    if (e.code() == errc::input_not_regular || e.code() == errc::input_too_large) corrupt(path, e.message());
    throw Error(errc::store_io, e.message(), "check the permissions of the data dir");
  }
}

// run.json's text when this boot wrote it; nullopt when there is none, or
// when it is from before the host's last boot (its pid names nothing now).
std::optional<std::string> this_boots(const fs::path& run_file) {
  // lstat: the age of what is at the path, even a symlink (which the read
  // then refuses), never of what it points at.
  struct stat st {};
  if (::lstat(run_file.c_str(), &st) != 0) return std::nullopt;
  const auto written = std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
  if (written < os::boot_time()) return std::nullopt;
  return read_record(run_file);
}

// A record is data, never a path to trust: it must name the VM of its folder,
// that folder as its work dir, and an id fit to be part of a path. Whatever
// else the VM's files are, its backend derives from these (and checks).
void check_identity(const VmRecord& record, std::string_view name, const fs::path& work_dir,
                    const fs::path& path) {
  const VmHandle& h = record.handle;
  if (h.name != name) corrupt(path, fmt::format("it names VM '{}', not '{}'", util::printable(h.name), name));
  if (fs::path(h.work_dir) != work_dir) {
    corrupt(path, fmt::format("its work dir '{}' is not {}", util::printable(h.work_dir), work_dir.string()));
  }
  if (!util::is_uuid(h.id)) corrupt(path, fmt::format("its id '{}' is not a UUID", util::printable(h.id)));
}

// `out` takes j[key] only when it is there with the expected type; says
// whether it did.
template <typename T>
bool salvage_field(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  try {
    out = it->get<T>();
    return true;
  } catch (const json::exception&) {
    return false;
  }
}
template <typename T>
bool salvage_field(const json& j, const char* key, std::optional<T>& out) {
  T value{};
  if (!salvage_field(j, key, value)) return false;
  out = value;
  return true;
}

[[noreturn]] void not_found(std::string_view name) {
  throw Error(errc::vm_not_found, fmt::format("no VM named '{}'", name),
              "check the name against the VMs that exist, or create the VM");
}

// The VM's lock, or Outcome::missing when its lock file is missing and
// `if_missing` says not to make it. Raises vm::locked on timeout.
os::LockResult take_lock(const DataDir& data_dir, const LockOptions& options, std::string_view name,
                         os::IfMissing if_missing) {
  fs::path path = data_dir.lock_file(name);  // validates the name first
  long holder = 0;
  os::LockResult result = os::lock_exclusive(
      path, options.timeout,
      [&](long pid) {
        holder = pid;
        if (options.on_wait) options.on_wait(name, pid);
      },
      if_missing);
  if (result.outcome == os::LockResult::Outcome::timed_out) {
    std::string by = holder > 0 ? fmt::format(" (pid {})", holder) : "";
    throw Error(errc::vm_locked,
                fmt::format("VM '{}' is busy: another vmctl command{} still holds its lock after {} s", name,
                            by, options.timeout.count() / 1000.0),
                "wait for that command to finish, or allow a longer lock timeout");
  }
  return result;
}

// The VM's folder is what makes it exist, also when its record is
// unreadable or a create crashed before writing it.
bool vm_dir_present(const DataDir& data_dir, std::string_view name) {
  struct stat st {};
  return ::lstat(data_dir.vm_dir(name).c_str(), &st) == 0;
}

}  // namespace

VmLock::VmLock(std::string name, int fd) : name_(std::move(name)), fd_(fd) {}

VmLock::VmLock(VmLock&& other) noexcept
    : name_(std::move(other.name_)), fd_(std::exchange(other.fd_, -1)) {}

VmLock& VmLock::operator=(VmLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    name_ = std::move(other.name_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

VmLock::~VmLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
}

VmStore::VmStore(DataDir data_dir, LockOptions options)
    : data_dir_(std::move(data_dir)), options_(std::move(options)) {}

VmLock VmStore::lock(std::string_view name) const {
  validate_vm_name(name);
  data_dir_.ensure_exists();
  return VmLock(std::string(name), take_lock(data_dir_, options_, name, os::IfMissing::create).fd);
}

VmLock VmStore::lock_existing(std::string_view name) const {
  validate_vm_name(name);
  data_dir_.check_private();
  os::LockResult taken = take_lock(data_dir_, options_, name, os::IfMissing::fail);
  if (taken.outcome == os::LockResult::Outcome::missing) {
    if (!vm_dir_present(data_dir_, name)) not_found(name);
    // A VM whose lock file was removed by hand gets a new one.
    data_dir_.ensure_exists();
    taken = take_lock(data_dir_, options_, name, os::IfMissing::create);
  }
  VmLock lock(std::string(name), taken.fd);
  if (!vm_dir_present(data_dir_, name)) {
    // Destroyed while we waited, or a lock file older releases left for a
    // name that never became a VM: forget it the way remove() does.
    ::unlink(data_dir_.lock_file(name).c_str());
    not_found(name);
  }
  return lock;
}

bool VmStore::exists(std::string_view name) const {
  data_dir_.check_private();
  return fs::exists(data_dir_.vm_file(name));
}

fs::path VmStore::run_file(std::string_view name) const { return data_dir_.vm_dir(name) / kRunFile; }

VmRecord VmStore::load(std::string_view name) const {
  data_dir_.check_private();
  fs::path path = data_dir_.vm_file(name);
  auto text = read_record(path);
  if (!text) not_found(name);
  // Read even when run.json stands in for it: a vm.json that would not
  // survive the next reboot is better found now.
  VmRecord durable = record_from_text(*text, path);
  check_identity(durable, name, data_dir_.vm_dir(name), path);
  fs::path run = run_file(name);
  if (auto run_text = this_boots(run)) {
    VmRecord current = record_from_text(*run_text, run);
    check_identity(current, name, data_dir_.vm_dir(name), run);
    return current;
  }
  return durable;
}

VmHandle VmStore::salvage(std::string_view name) const {
  VmHandle remains;
  remains.name = std::string(name);
  remains.work_dir = data_dir_.vm_dir(name).string();
  auto handle_in = [](const std::optional<std::string>& text) {
    json j = json::parse(text.value_or(""), nullptr, /*allow_exceptions=*/false);
    return j.is_object() && j.contains("handle") && j["handle"].is_object() ? j : json();
  };
  json j;
  try {
    // This boot's record names the process that may still run.
    j = handle_in(this_boots(run_file(name)));
    if (j.is_null()) j = handle_in(read_record(data_dir_.vm_file(name)));
  } catch (const Error&) {
    return remains;
  }
  if (j.is_null()) return remains;
  json& h = j["handle"];
  if (!j.contains("format") || j["format"] == 1) move_backend_fields(h);
  // The id may become part of a path (qemu's socket folder): only a UUID.
  if (salvage_field(h, "id", remains.id) && !util::is_uuid(remains.id)) remains.id.clear();
  salvage_field(h, "backend", remains.backend);
  // The backend's own fields, for it to salvage what it can.
  if (auto it = h.find("backend_state"); it != h.end() && it->is_object()) {
    salvage_field(*it, "version", remains.backend_state.version);
    auto data = it->find("data");
    if (data != it->end() && data->is_object()) remains.backend_state.data = *data;
  }
  return remains;
}

void VmStore::save(const VmLock& lock, const VmRecord& record, Durability durability) const {
  if (lock.name() != record.handle.name) {
    throw Error(errc::store_io,
                fmt::format("refusing to save VM '{}' under the lock of '{}'", record.handle.name, lock.name()),
                "this is a bug in vmctl; please report it");
  }
  const std::string text = record_to_text(record);
  fs::path run = run_file(record.handle.name);
  if (durability == Durability::this_boot) {
    os::write_file_atomic(run, text, 0600, os::Sync::this_boot);
    return;
  }
  // Dropped before vm.json is replaced: the fsync of the folder that makes
  // the new vm.json durable makes this unlink durable too, so no crash can
  // leave a run.json older than vm.json.
  if (::unlink(run.c_str()) != 0 && errno != ENOENT) {
    throw Error(errc::store_io, fmt::format("cannot remove {}: {}", run.string(), std::strerror(errno)),
                "check the permissions of the data dir");
  }
  os::write_file_atomic(data_dir_.vm_file(record.handle.name), text);
}

VmRecord VmStore::create(const VmLock& lock, const VmSpec& spec,
                         const std::function<VmHandle(const VmSpec&)>& prepare) const {
  validate_vm_name(spec.name);
  if (lock.name() != spec.name) {
    throw Error(errc::store_io, fmt::format("creating '{}' needs its own lock", spec.name),
                "this is a bug in vmctl; please report it");
  }
  if (exists(spec.name)) {
    throw Error(errc::vm_already_exists, fmt::format("a VM named '{}' already exists", spec.name),
                "choose another name, or destroy the existing VM first");
  }
  fs::path dir = data_dir_.vm_dir(spec.name);
  // A folder without vm.json is what a create killed part-way leaves; we hold
  // the lock, so nobody else is creating it now.
  if (fs::exists(dir)) data_dir_.remove_inside(dir);

  VmRecord record;
  record.spec = spec;
  record.created_at = now_rfc3339();
  util::Rollback undo([&] {
    if (fs::exists(dir)) data_dir_.remove_inside(dir);
  });
  record.handle = prepare(spec);
  if (record.handle.name != spec.name) {
    throw Error(errc::store_io, "the backend named the VM differently from its spec",
                "this is a bug in vmctl; please report it");
  }
  os::make_dir(dir);  // backends normally made it already
  save(lock, record);
  undo.commit();
  return record;
}

void VmStore::remove(VmLock&& lock) const {
  VmLock held = std::move(lock);
  fs::path dir = data_dir_.vm_dir(held.name());
  if (fs::exists(fs::symlink_status(dir))) data_dir_.remove_inside(dir);
  // Unlink while still holding the lock: waiters notice the file is gone
  // and lock the next one (see os::lock_exclusive).
  ::unlink(data_dir_.lock_file(held.name()).c_str());
}

std::vector<StoreEntry> VmStore::list() const {
  data_dir_.check_private();
  std::vector<StoreEntry> entries;
  std::error_code ec;
  fs::directory_iterator it(data_dir_.vms_dir(), ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return entries;
    throw Error(errc::store_io, fmt::format("cannot read {}: {}", data_dir_.vms_dir().string(), ec.message()),
                "check the permissions of the data dir");
  }
  for (const auto& dirent : it) {
    std::string name = dirent.path().filename().string();
    if (!is_valid_vm_name(name) || !dirent.is_directory()) continue;
    StoreEntry entry;
    entry.name = name;
    try {
      entry.record = load(name);
    } catch (const Error& e) {
      if (e.code() == errc::vm_not_found) {
        bool creating = os::is_locked(data_dir_.lock_file(name));
        entry.state_without_record = creating ? VmState::preparing : VmState::failed;
        entry.problem = creating ? "being created" : "a create did not finish; destroying the VM removes it";
      } else {
        entry.problem = e.message();
      }
    }
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [](const StoreEntry& a, const StoreEntry& b) { return a.name < b.name; });
  return entries;
}

}  // namespace vm_manager
