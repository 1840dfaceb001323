// VmManager: what programs do with VMs, in one place. It owns the data dir,
// the store with its per-VM locks, the backends (through the router) and the
// image cache, and runs every change the same way: lock the VM, load its
// record, act, save. Besides the lifecycle it reaches into guests (wait
// until ready, exec, copy files, provision) and their consoles. VMFiles are
// applied on top of it (vm_manager/vmfile.hpp).
//
// Thread safety: a VmManager may be used from several threads, and several
// processes may use the same data dir; operations on one VM are serialised
// by its lock (LockOptions says how long to wait for it). Every failure is a
// vm_manager::Error with a stable code.
#pragma once

#include "vm_manager/export.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "vm_manager/backend_registry.hpp"
#include "vm_manager/data_dir.hpp"
#include "vm_manager/environment.hpp"
#include "vm_manager/folder_copy.hpp"
#include "vm_manager/images.hpp"
#include "vm_manager/log.hpp"
#include "vm_manager/progress.hpp"
#include "vm_manager/provision.hpp"
#include "vm_manager/router.hpp"
#include "vm_manager/store.hpp"
#include "vm_manager/types.hpp"

namespace vm_manager {

// Made from the data dir (and the environment the backends read their
// settings from); the other fields keep their defaults unless set.
struct ManagerConfig {
  explicit ManagerConfig(DataDir dir, Environment env = {})
      : data_dir(std::move(dir)), environment(std::move(env)) {}

  DataDir data_dir;
  // Handed to the backends (BackendContext::environment) for their settings;
  // the image cache finds its default folder and registry credentials here.
  Environment environment;
  LockOptions locks;
  std::optional<std::string> bridge;    // default bridge for TAP networking
  std::optional<std::string> zfs_pool;  // pool for Propolis disks
  // Which backends there are; BackendRegistry::noop_only() for tests.
  BackendRegistry backends = BackendRegistry::builtin();
  // Where the library's diagnostics go, from every part the manager drives
  // (log.hpp); the library itself never writes to stdout or stderr. Empty:
  // they are dropped.
  LogSink log = {};
  // Where images are cached (by default found through `environment`).
  std::optional<std::filesystem::path> image_cache;
  // The image cache's log (ImageCacheConfig::log): its info lines say what a
  // pull is doing, for a program that shows them as status. Empty: `log`.
  LogSink image_log = {};
};

// How create() makes a VM.
struct CreateOptions {
  bool start = false;  // start it too, under the same lock
  // spec.image_path names the base image. An http(s) URL or an oci://
  // reference is pulled into the image cache; anything else is what the
  // backend takes (a file for qemu, a snapshot's name for propolis), unless
  // `through_cache` or image_sha256 is set: then a local file goes through
  // the cache as well (checked, decompressed once when compressed).
  bool through_cache = false;
  std::optional<std::string> image_sha256;  // of the fetched bytes, 64 hex digits
  ProgressCallback progress;                 // hears of the image's download
  // Called once the VM exists, before it starts.
  std::function<void(const VmRecord&)> on_created;
};

// A VM as list() and status() see it: its record and its live state.
struct VmStatus {
  std::string name;
  // Empty for a VM whose record is missing (a create in progress, or one
  // that crashed) or unreadable.
  std::optional<VmRecord> record;
  // Asked of the backend; failed when asking raised (then `problem` says why).
  VmState state = VmState::failed;
  std::string problem;  // why the record is missing or unreadable, or the backend's error
  // What the backend adds while the VM runs (Hypervisor::describe: "pid",
  // "vnc" for qemu); an empty object otherwise.
  nlohmann::json details = nlohmann::json::object();
};

// Receives output as it arrives (arbitrary chunks, not lines).
using OutputSink = std::function<void(std::string_view chunk)>;

// What a command run in the guest did.
struct ExecResult {
  int exit_status = -1;  // the command's status; 128+N when killed by signal N
  std::string out;
  std::string err;
};

struct ExecOptions {
  std::chrono::milliseconds timeout{0};  // 0: no limit
  // Called with the command's output as it arrives, in addition to what
  // ExecResult collects. Called on the calling thread; must not throw.
  OutputSink on_stdout;
  OutputSink on_stderr;
  std::optional<std::string> stdin_data;  // sent, then EOF
};

// Where and as whom a VM's sshd lets its login in: what an OpenSSH client
// needs (its host key is filed under host_key_alias in known_hosts).
struct SshAccess {
  std::string host;
  std::uint16_t port = 22;
  std::string user;
  // The VM's recorded login key: empty when the VM was given only a public
  // key, or when the recorded private key file is gone (then
  // missing_identity_file names it, and a client falls back to its own keys).
  std::string identity_file;
  std::string missing_identity_file;
  std::string known_hosts;
  std::string host_key_alias;
};

struct ProvisionOptions {
  // Receives each line of the steps' output (stdout and stderr, no newline)
  // as it comes.
  std::function<void(std::string_view line)> print;
  // How long connecting to the guest may take.
  std::chrono::milliseconds connect_timeout{std::chrono::minutes(1)};
};

// Why attach_console() returned.
enum class ConsoleEnd {
  detached,        // the user typed Ctrl-] (kDetachKey)
  input_closed,    // the input reached its end (piped input)
  console_closed,  // the VM closed its console (it shut down)
};
inline constexpr unsigned char kDetachKey = 0x1d;  // Ctrl-]

struct ConsoleAttachOptions {
  // Called once connected, before a terminal input goes raw: the moment to
  // tell the user how to detach.
  std::function<void()> on_connected;
  // Called when the console ends the attach, with its reason if it gave one.
  std::function<void(const std::string& reason)> on_console_closed;
};

struct ConsoleLogOptions {
  std::optional<std::size_t> last_lines;  // unset: everything kept
  // Keep sending new output until the VM is destroyed (a log file), or its
  // console closes (a console kept by the backend).
  bool follow = false;
  // Read the console the backend keeps rather than the VM's log file.
  bool live = false;
};

struct ReadyOptions {
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  bool wait_for_cloud_init = true;  // when the VM has a cloud-init seed
  // Hears each step as it begins (what: "ssh", then "cloud-init"), and
  // again with finished as it ends, also when it fails; nothing is counted.
  ProgressCallback progress;
};

// What bring_up() did.
enum class BringUp { already_running, started, resumed };

// What destroy() removed.
enum class Destroyed {
  vm,                 // a VM with its resources
  unreadable_record,  // a VM whose vm.json could not be read: what could be proven its
  remains,            // the folder a create that crashed left behind
};

// The key line of an OpenSSH public key file, for SshConfig::public_key:
// its one non-empty, non-comment line, checked. Raises ssh::bad_key.
VM_MANAGER_API std::string read_ssh_public_key(const std::filesystem::path& path);

class VM_MANAGER_API VmManager {
 public:
  explicit VmManager(ManagerConfig config);
  VmManager(const VmManager&) = delete;
  VmManager& operator=(const VmManager&) = delete;

  const DataDir& data_dir() const { return store_.data_dir(); }
  VmStore& store() { return store_; }
  RouterHypervisor& hypervisor() { return hypervisor_; }
  // The image cache create() pulls through.
  Images& images() { return images_; }

  // Creates the VM (prepared, not started) from `spec`, its image resolved
  // as CreateOptions says. Raises vm::already_exists (before fetching any
  // image), image::… when the image cannot be had; when creating fails
  // nothing of the VM remains (when only starting fails, the VM stays,
  // prepared).
  VmRecord create(const VmSpec& spec, const CreateOptions& options);
  // The same with only `start` and `on_created` set.
  VmRecord create(const VmSpec& spec, bool start = false,
                  const std::function<void(const VmRecord&)>& on_created = {});

  // Boots a prepared or stopped VM; a running one is left as it is.
  //
  // A VM whose spec asks for VncMode::tcp gets a new VNC password at each
  // boot: the record that start, create (with start), restart and bring_up
  // return then has it in handle.vnc_password, for the caller to show. It
  // is kept nowhere else (not in vm.json), so it cannot be asked for later.
  VmRecord start(std::string_view name, bool* was_running = nullptr);
  // The same, then waits until the guest is ready (wait_ready, outside the
  // VM's lock, so others can use the VM meanwhile).
  VmRecord start(std::string_view name, const ReadyOptions& ready, bool* was_running = nullptr);
  // Gracefully, then forcefully once `timeout` has passed (0: at once).
  VmRecord stop(std::string_view name, std::chrono::milliseconds timeout);
  VmRecord suspend(std::string_view name);
  VmRecord resume(std::string_view name);
  // Stops the VM if it runs (as stop() does) and starts it again.
  VmRecord restart(std::string_view name, std::chrono::milliseconds timeout);
  // Resets the running VM at once, as the reset button does: the guest
  // reboots without shutting down (Hypervisor::hard_reset). Raises
  // vm::invalid_state when it does not run.
  VmRecord hard_reset(std::string_view name);
  // Makes the VM run: starts a prepared or stopped one, resumes a suspended
  // one. Raises vm::invalid_state for a failed or destroyed VM.
  BringUp bring_up(std::string_view name, VmRecord* record = nullptr);
  // Stops the VM if needed and removes it with its work dir. Also removes a
  // VM whose record is unreadable (each backend clears what it can prove is
  // that VM's) and the remains of a create that crashed.
  Destroyed destroy(std::string_view name);

  // Waits until the VM's guest answers SSH with the host key generated for
  // it and accepts the VM's login key, then (with a seed) until cloud-init
  // has finished. Raises ssh::timeout at options.timeout, vm::start_failed
  // when cloud-init failed, vm::invalid_state when the VM does not run.
  void wait_ready(std::string_view name, const ReadyOptions& options = {});
  // Runs `command` through the login user's shell in the guest, over SSH
  // pinned to the VM's host key. `timeout` 0: no limit. Raises ssh::*.
  ExecResult exec(std::string_view name, const std::string& command,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // The same, streaming the output to options' sinks as it arrives.
  ExecResult exec(std::string_view name, const std::string& command, const ExecOptions& options);
  // SFTP copies of one file into and out of the guest, as the login user
  // (missing folders of the destination are made). Raises ssh::….
  void upload(std::string_view name, const std::filesystem::path& local, const std::string& remote);
  void download(std::string_view name, const std::string& remote, const std::filesystem::path& local);
  // SFTP copies of a folder tree into and out of the guest, as `cp -r`
  // copies: into DST/<SRC's name> when DST is a folder already, else to DST
  // (its missing parents made). Modes are kept; a symlink is copied as a
  // symlink, never followed (also one pointing out of the tree); FIFOs,
  // sockets and devices are skipped and listed in the result. Raises
  // cp::not_a_folder, cp::in_the_way, cp::unsafe_name, ssh::….
  FolderCopy upload_folder(std::string_view name, const std::filesystem::path& local, const std::string& remote);
  FolderCopy download_folder(std::string_view name, const std::string& remote, const std::filesystem::path& local);
  // What an SSH client needs to log into the VM. Raises ssh::not_configured
  // when the VM was created without SSH access.
  SshAccess ssh_access(std::string_view name);
  // Waits until the guest's SSH server greets (its banner), without logging
  // in: an SSH client started then does not meet a guest still booting.
  // Raises ssh::timeout at `timeout`, vm::invalid_state when the VM does not run.
  void wait_for_ssh_server(std::string_view name, std::chrono::milliseconds timeout);
  // Runs the steps in the guest in order, output streamed to options.print
  // and appended to provision.log in the VM's work dir. The first failing
  // step stops the rest: raises provision::failed naming it.
  void provision(std::string_view name, const std::vector<ProvisionStep>& steps,
                 const ProvisionOptions& options = {});

  // Published ports. Adds a forward from the host to the VM's guest
  // (Hypervisor::add_port_forward): at once when the VM runs, and to its
  // record, durably, so that every later start applies it; a stopped or
  // prepared VM gets it at its next start. The record's spec takes it too:
  // it describes the VM as it now should be. Raises port::invalid,
  // port::unsupported, port::in_use (naming what holds the host port where
  // the host can tell).
  VmRecord add_port_forward(std::string_view name, const PortForward& forward);
  // Removes the VM's forward from host_port/protocol, live too when it
  // runs. Raises port::not_found.
  VmRecord remove_port_forward(std::string_view name, std::uint16_t host_port, PortProtocol protocol);

  // Changes a stopped or prepared VM's vCPUs, memory and disk size in place
  // (Hypervisor::resize; unset fields stay, an empty change does nothing).
  // The next start uses them. The record's spec takes the new values too,
  // durably: it describes the VM as it now should be. Raises
  // resize::running when the VM runs or is suspended, resize::shrink for a
  // smaller disk, spec::invalid for values out of range,
  // backend::unsupported for a backend that cannot resize.
  VmRecord resize(std::string_view name, const VmResize& change);
  // Snapshots (Hypervisor::create_snapshot and the rest), each under the
  // VM's lock, the record saved when the backend changed the handle. Names
  // follow the VM-name rules (snapshot::invalid_name, checked before the
  // backend is asked). create: of a running VM with its RAM unless `memory`
  // is exclude, of a stopped one its disks. restore: one with RAM leaves
  // the VM running where it was; one without needs a VM that does not run
  // (snapshot::needs_stopped). Raises snapshot::… as the backend does.
  VmRecord create_snapshot(std::string_view name, const std::string& snapshot,
                           SnapshotMemory memory = SnapshotMemory::include);
  // Oldest first.
  std::vector<SnapshotInfo> list_snapshots(std::string_view name);
  // The record's spec.disk_gb follows the restored disk's size.
  VmRecord restore_snapshot(std::string_view name, const std::string& snapshot);
  VmRecord delete_snapshot(std::string_view name, const std::string& snapshot);

  // How to reach the VM's serial console (NoConsole for a backend without one).
  ConsoleEndpoint console_endpoint(std::string_view name);
  // Relays between the VM's serial console and in_fd/out_fd until the user
  // types Ctrl-], in_fd ends, or the console closes. A terminal in_fd is put
  // in raw mode meanwhile and always restored. Raises console::unavailable
  // (also for a VM without a console), console::websocket_failed.
  ConsoleEnd attach_console(std::string_view name, int in_fd, int out_fd, const ConsoleAttachOptions& options = {});
  // Sends the VM's console output to `sink`: its log file, or (options.live,
  // or a VM without a log file) the history its backend keeps, then with
  // options.follow what follows. Raises console::no_log, console::unavailable.
  void console_log(std::string_view name, const ConsoleLogOptions& options, const OutputSink& sink);
  // Sends provision.log (what provision() appended, in the VM's work dir) to
  // `sink`: its last options.last_lines lines or all, then with
  // options.follow what follows until the VM is destroyed (a log not written
  // yet is waited for). options.live does not apply. Raises
  // provision::no_log when the VM was never provisioned (not following).
  void provision_log(std::string_view name, const ConsoleLogOptions& options, const OutputSink& sink);

  // Each host's reachability, capacity and running vmctl VMs, asked of all
  // of them at once (an unreachable one costs its deadline, not the sum).
  // Raises what Hypervisor::describe_host raises for bad settings.
  std::vector<HostInfo> describe_hosts(const std::vector<HostSpec>& hosts);

  // The VM's record. Raises vm::not_found, store::corrupt.
  VmRecord get(std::string_view name) const;
  bool exists(std::string_view name) const;
  // Every VM in the data dir with its live state, sorted by name. The
  // backends are asked for all of them at once, so listing takes as long as
  // the slowest VM, not the sum of them. A backend's error does not stop the
  // listing: that VM shows as failed, with the error as its problem.
  std::vector<VmStatus> list();
  // One VM as list() shows it. Raises vm::not_found, store::corrupt.
  VmStatus status(std::string_view name);
  // The live state, asked of the VM's backend.
  VmState state(const VmHandle& handle);
  // The VM's record when it runs; raises vm::invalid_state ("VM 'web' is
  // stopped, not running") when it does not. exec, upload, download,
  // ssh_access and provision check this first.
  VmRecord require_running(std::string_view name);

 private:
  // The VM's record, its backend's paths checked (Hypervisor::check_stored_paths).
  VmRecord load(std::string_view name) const;

  // The one place a running VM changes: lock, load, `act` (a start, stop,
  // suspend or resume), save for this boot.
  template <typename Act>
  VmRecord change(std::string_view name, Act act);
  // Lock, load, `act` on the handle's port forwards, save durably with the
  // spec's forwards matching the handle's.
  template <typename Act>
  VmRecord change_forwards(std::string_view name, Act act);

  // Lock, load, `act` on a snapshot of the VM (snapshots.cpp), save for
  // this boot when the handle changed (a restore with RAM starts QEMU).
  VmRecord change_snapshots(std::string_view name, const std::function<VmHandle(const VmHandle&)>& act);

  // The image create() names, as the backend keeps it.
  std::string resolve_image(const VmSpec& spec, const CreateOptions& options);

  VmStore store_;
  // mutable: get() and the other readers ask backends (check_stored_paths)
  // without changing any VM.
  mutable RouterHypervisor hypervisor_;
  Images images_;
};

}  // namespace vm_manager
