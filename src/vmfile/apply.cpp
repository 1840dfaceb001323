#include "vmfile/apply.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <atomic>
#include <map>
#include <thread>
#include <utility>

#include "vm_manager/error.hpp"
#include "vm_manager/spec_check.hpp"

namespace vm_manager::vmfile {
namespace fs = std::filesystem;

namespace {

void say(const ApplyContext& ctx, const std::string& vm, const std::string& line) {
  if (ctx.on_event) ctx.on_event(vm, line);
}

VmOutcome succeeded(const std::string& name, std::string result) {
  VmOutcome outcome;
  outcome.name = name;
  outcome.result = std::move(result);
  return outcome;
}

// Every failure of one VM becomes its outcome, so the others go on.
template <typename Body>
VmOutcome guarded(const ApplyContext& ctx, const std::string& name, Body body) {
  VmOutcome outcome;
  outcome.name = name;
  outcome.ok = false;
  outcome.result = "failed";
  try {
    return body();
  } catch (const Error& e) {
    outcome.error = e.message();
    outcome.error_code = e.code();
  } catch (const std::exception& e) {
    outcome.error = e.what();
    outcome.error_code = "vmctl::internal";
  }
  say(ctx, name, "failed: " + outcome.error);
  return outcome;
}

std::string mounts_text(const std::vector<SharedFolder>& folders) {
  if (folders.empty()) return "none";
  std::string text;
  for (const SharedFolder& f : folders) {
    text += fmt::format("{}{}:{}{}", text.empty() ? "" : ", ", f.host_path, f.guest_path, f.read_only ? ":ro" : "");
  }
  return text;
}

std::string data_disks_text(const std::vector<DataDisk>& disks) {
  if (disks.empty()) return "none";
  std::string text;
  for (const DataDisk& d : disks) text += fmt::format("{}{} {} GB", text.empty() ? "" : ", ", d.name, d.size_gb);
  return text;
}

std::string network_text(const NetworkConfig& network) {
  const StaticAddress* fixed = static_address(network);
  const std::string ip = fixed ? " ip=" + fixed->address : std::string();
  if (auto* tap = std::get_if<TapNetwork>(&network)) return "tap bridge=" + tap->bridge + ip;
  if (auto* vnic = std::get_if<VnicNetwork>(&network)) return "vnic " + vnic->name + ip;
  return std::string(network_mode(network));
}

std::string forwards_text(const std::vector<PortForward>& forwards) {
  std::vector<std::string> texts;
  for (const PortForward& forward : forwards) texts.push_back(port_forward_text(forward));
  return fmt::format("{}", fmt::join(texts, ", "));
}

// What places a VM on a machine (the VMFile's host and connect, with the
// host's pool and network): a VM there is another VM, so a change is drift
// that only a reload applies. Labelled as the VMFile writes them.
constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kPlacementOptions = {{
    {"host", "host"}, {"connect", "connect"}, {"pool", "pool"}, {"network", "host network"}}};

std::string option_text(const std::map<std::string, std::string>& options, std::string_view key) {
  auto it = options.find(std::string(key));
  return it == options.end() ? "none" : it->second;
}

void placement_drift(const VmSpec& created_from, const VmSpec& wanted, std::vector<std::string>& drift) {
  for (const auto& [key, label] : kPlacementOptions) {
    std::string was = option_text(created_from.backend_options, key);
    std::string now = option_text(wanted.backend_options, key);
    if (was != now) drift.push_back(fmt::format("{} {} -> {}", label, was, now));
  }
}

std::string disk_text(const std::optional<std::uint64_t>& disk_gb) {
  return disk_gb ? fmt::format("{} GB", *disk_gb) : "image size";
}

// The image a definition names, where it would be, without pulling it.
std::string wanted_image_path(const ApplyContext& ctx, const VmDefinition& vm) {
  if (!vm.image_url) return vm.spec.image_path;
  return ctx.manager->images().path_for(*vm.image_url).string();
}

void wait_ready(const ApplyContext& ctx, const VmHandle& handle) {
  if (handle.ssh_user.empty()) return;  // e.g. the noop backend: nothing to log into, nothing to wait for
  ReadyOptions options;
  options.timeout = ctx.ready_timeout;
  options.progress = [&](const Progress& step) {
    if (step.finished) return;
    say(ctx, handle.name, step.what == "ssh" ? "waiting for SSH" : "waiting for cloud-init to finish");
  };
  ctx.manager->wait_ready(handle.name, options);
  say(ctx, handle.name, "ready");
}

void run_provisioners(const ApplyContext& ctx, const VmDefinition& vm, const VmHandle& handle) {
  if (vm.provisioners.empty()) return;
  say(ctx, handle.name, fmt::format("provisioning ({} step{})", vm.provisioners.size(),
                                    vm.provisioners.size() == 1 ? "" : "s"));
  ProvisionOptions options;
  options.connect_timeout = ctx.ready_timeout;
  options.print = [&](std::string_view line) { say(ctx, handle.name, std::string(line)); };
  ctx.manager->provision(handle.name, vm.provisioners, options);
}

// A password a start set is said once, here: it is kept nowhere.
void say_started(const ApplyContext& ctx, const VmHandle& handle) {
  say(ctx, handle.name, "started");
  if (handle.vnc_password) {
    say(ctx, handle.name, fmt::format("VNC {}, password {} (shown once)", handle.vnc_password->address,
                                      handle.vnc_password->password));
  }
}

VmOutcome create_new(const ApplyContext& ctx, const VmDefinition& vm) {
  VmSpec spec = vm.spec;
  CreateOptions options;
  options.start = true;
  if (vm.image_url) {
    // Pulled quietly (no progress listener): parallel progress bars would
    // garble; the VM's lines say what happens.
    say(ctx, spec.name, "pulling image " + *vm.image_url);
    spec.image_path = *vm.image_url;
    options.through_cache = true;
    options.image_sha256 = vm.image_sha256;
  }
  options.on_created = [&](const VmRecord& created) {
    say(ctx, spec.name, fmt::format("created ({} backend)", created.handle.backend));
  };
  VmRecord record = ctx.manager->create(spec, options);
  say_started(ctx, record.handle);
  wait_ready(ctx, record.handle);
  if (ctx.provision) run_provisioners(ctx, vm, record.handle);
  return succeeded(spec.name, ctx.provision && !vm.provisioners.empty() ? "created, provisioned" : "created");
}

// Brings an existing VM up without changing what it is.
VmOutcome bring_up_existing(const ApplyContext& ctx, const std::string& name) {
  VmRecord record;
  switch (ctx.manager->bring_up(name, &record)) {
    case BringUp::already_running:
      return succeeded(name, "running");
    case BringUp::resumed:
      say(ctx, name, "resumed");
      return succeeded(name, "resumed");
    case BringUp::started:
      say_started(ctx, record.handle);
      wait_ready(ctx, record.handle);
      return succeeded(name, "started");
  }
  return succeeded(name, "running");
}

// The definition's spec, its image where the cache keeps it.
VmSpec wanted_spec(const ApplyContext& ctx, const VmDefinition& vm) {
  VmSpec wanted = vm.spec;
  wanted.image_path = wanted_image_path(ctx, vm);
  return wanted;
}

// Resizes a stopped VM; false, after saying why, when its backend cannot
// (it has no resize, or the disk is larger than asked: only a new VM
// applies that).
bool try_resize(const ApplyContext& ctx, const std::string& name, const VmResize& change) {
  try {
    ctx.manager->resize(name, change);
    return true;
  } catch (const Error& e) {
    if (e.code() != errc::resize_shrink && e.code() != errc::backend_unsupported) throw;
    say(ctx, name, "cannot resize in place: " + e.message());
    return false;
  }
}

// What up does with drift, before it brings the VM up (so that what it says
// is not lost when that fails): a change in_place_change takes is applied to
// a VM that does not run; anything else is said. True when it resized.
bool apply_drift(const ApplyContext& ctx, const VmRecord& record, const VmSpec& wanted,
                 const std::vector<std::string>& drift) {
  const std::string& name = wanted.name;
  const std::string listed = fmt::format("{}", fmt::join(drift, ", "));
  std::optional<VmResize> change = in_place_change(record.spec, wanted);
  if (change) {
    VmState state = ctx.manager->state(record.handle);
    if (state != VmState::prepared && state != VmState::stopped) {
      say(ctx, name, fmt::format("drifted from its definition ({}); stopping the VM lets up apply it in place",
                                 listed));
      return false;
    }
    if (try_resize(ctx, name, *change)) {
      say(ctx, name, "resized in place: " + listed);
      return true;
    }
  }
  say(ctx, name, fmt::format("drifted from its definition ({}); a reload applies it", listed));
  return false;
}

// reload's way for a VM whose drift in_place_change takes: stop, resize,
// start. nullopt when the VM does not exist, has other drift or none, or
// its backend cannot resize it: reload then makes it anew.
std::optional<VmOutcome> reload_in_place(const ApplyContext& ctx, const VmDefinition& vm) {
  const std::string& name = vm.spec.name;
  if (!ctx.manager->exists(name)) return std::nullopt;
  const VmSpec wanted = wanted_spec(ctx, vm);
  const VmRecord record = ctx.manager->get(name);
  std::optional<VmResize> change = in_place_change(record.spec, wanted);
  if (!change) return std::nullopt;
  VmState state = ctx.manager->state(record.handle);
  if (state != VmState::prepared && state != VmState::stopped) {
    say(ctx, name, "stopping to resize in place");
    ctx.manager->stop(name, ctx.stop_timeout);
    say(ctx, name, "stopped");
  }
  if (!try_resize(ctx, name, *change)) return std::nullopt;
  say(ctx, name, fmt::format("resized in place: {}", fmt::join(drift_between(record.spec, wanted), ", ")));
  VmOutcome outcome = bring_up_existing(ctx, name);
  outcome.result = "resized, " + outcome.result;
  return outcome;
}

}  // namespace

std::optional<VmResize> in_place_change(const VmSpec& created_from, const VmSpec& wanted) {
  // A disk grows to a given size only: an unset size is the image's, which
  // a grown disk cannot go back to.
  if (created_from.disk_gb != wanted.disk_gb &&
      (!wanted.disk_gb || (created_from.disk_gb && *wanted.disk_gb < *created_from.disk_gb))) {
    return std::nullopt;
  }
  VmSpec resized = created_from;
  resized.vcpus = wanted.vcpus;
  resized.memory_mb = wanted.memory_mb;
  resized.disk_gb = wanted.disk_gb;
  if (!drift_between(resized, wanted).empty()) return std::nullopt;  // more than the size drifted
  VmResize change;
  if (created_from.vcpus != wanted.vcpus) change.vcpus = wanted.vcpus;
  if (created_from.memory_mb != wanted.memory_mb) change.memory_mb = wanted.memory_mb;
  if (created_from.disk_gb != wanted.disk_gb) change.disk_gb = wanted.disk_gb;
  if (change == VmResize{}) return std::nullopt;
  return change;
}

std::vector<std::string> drift_between(const VmSpec& created_from, const VmSpec& wanted) {
  std::vector<std::string> drift;
  auto same_path = [](const std::string& a, const std::string& b) {
    return fs::path(a).lexically_normal() == fs::path(b).lexically_normal();
  };
  if (!same_path(created_from.image_path, wanted.image_path)) {
    drift.push_back(fmt::format("image {} -> {}", created_from.image_path, wanted.image_path));
  }
  if (created_from.vcpus != wanted.vcpus) drift.push_back(fmt::format("vcpus {} -> {}", created_from.vcpus, wanted.vcpus));
  if (created_from.memory_mb != wanted.memory_mb) {
    drift.push_back(fmt::format("memory {} MB -> {} MB", created_from.memory_mb, wanted.memory_mb));
  }
  if (created_from.disk_gb != wanted.disk_gb) {
    drift.push_back(fmt::format("disk {} -> {}", disk_text(created_from.disk_gb), disk_text(wanted.disk_gb)));
  }
  if (created_from.vnc != wanted.vnc) {
    drift.push_back(fmt::format("vnc {} -> {}", to_string(created_from.vnc), to_string(wanted.vnc)));
  }
  if (created_from.network != wanted.network) {
    drift.push_back(fmt::format("network {} -> {}", network_text(created_from.network), network_text(wanted.network)));
  }
  if (created_from.port_forwards != wanted.port_forwards) {
    drift.push_back(fmt::format("forwards [{}] -> [{}]", forwards_text(created_from.port_forwards),
                                forwards_text(wanted.port_forwards)));
  }
  if (created_from.shared_folders != wanted.shared_folders) {
    drift.push_back(fmt::format("mounts {} -> {}", mounts_text(created_from.shared_folders),
                                mounts_text(wanted.shared_folders)));
  }
  if (created_from.data_disks != wanted.data_disks) {
    drift.push_back(fmt::format("data disks {} -> {}", data_disks_text(created_from.data_disks),
                                data_disks_text(wanted.data_disks)));
  }
  placement_drift(created_from, wanted, drift);
  return drift;
}

VmOutcome up(const ApplyContext& ctx, const VmDefinition& vm) {
  const std::string& name = vm.spec.name;
  return guarded(ctx, name, [&] {
    if (!ctx.manager->exists(name)) return create_new(ctx, vm);
    const VmSpec wanted = wanted_spec(ctx, vm);
    const VmRecord record = ctx.manager->get(name);
    std::vector<std::string> drift = drift_between(record.spec, wanted);
    const bool resized_now = !drift.empty() && apply_drift(ctx, record, wanted, drift);
    VmOutcome outcome = bring_up_existing(ctx, name);
    if (resized_now) {
      outcome.result = "resized, " + outcome.result;
    } else if (!drift.empty()) {
      outcome.result += ", drifted";
      outcome.drift = std::move(drift);
    }
    return outcome;
  });
}

VmOutcome down(const ApplyContext& ctx, const VmDefinition& vm, bool destroy) {
  const std::string& name = vm.spec.name;
  return guarded(ctx, name, [&] {
    if (!ctx.manager->exists(name)) return succeeded(name, "not created");
    if (destroy) {
      ctx.manager->destroy(name);
      say(ctx, name, "destroyed");
      return succeeded(name, "destroyed");
    }
    VmState state = ctx.manager->state(ctx.manager->get(name).handle);
    if (state != VmState::running && state != VmState::suspended) return succeeded(name, std::string(to_string(state)));
    say(ctx, name, "stopping");
    ctx.manager->stop(name, ctx.stop_timeout);
    say(ctx, name, "stopped");
    return succeeded(name, "stopped");
  });
}

VmOutcome reload(const ApplyContext& ctx, const VmDefinition& vm) {
  std::optional<VmOutcome> in_place;
  VmOutcome checked = guarded(ctx, vm.spec.name, [&] {
    in_place = reload_in_place(ctx, vm);
    return succeeded(vm.spec.name, "");
  });
  if (!checked.ok) return checked;
  if (in_place) return *in_place;
  VmOutcome gone = down(ctx, vm, true);
  if (!gone.ok) return gone;
  VmOutcome outcome = up(ctx, vm);
  if (outcome.ok && gone.result == "destroyed") outcome.result = "re" + outcome.result;  // "recreated, provisioned"
  return outcome;
}

VmOutcome provision(const ApplyContext& ctx, const VmDefinition& vm) {
  const std::string& name = vm.spec.name;
  return guarded(ctx, name, [&] {
    VmRecord record = ctx.manager->require_running(name);
    if (vm.provisioners.empty()) return succeeded(name, "nothing to provision");
    run_provisioners(ctx, vm, record.handle);
    return succeeded(name, "provisioned");
  });
}

std::vector<VmOutcome> apply_parallel(const std::vector<const VmDefinition*>& vms, unsigned jobs,
                                      const std::function<VmOutcome(const VmDefinition&)>& action) {
  std::vector<VmOutcome> outcomes(vms.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < vms.size(); i = next++) outcomes[i] = action(*vms[i]);
  };
  std::size_t threads = jobs == 0 ? vms.size() : std::min<std::size_t>(jobs, vms.size());
  {
    std::vector<std::jthread> pool;
    for (std::size_t t = 0; t < threads; ++t) pool.emplace_back(worker);
  }  // joined here, before anyone reads the outcomes
  return outcomes;
}

}  // namespace vm_manager::vmfile
