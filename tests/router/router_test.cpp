// RouterHypervisor: each call reaches the backend that owns the VM, and
// nothing reaches a backend the build or host lacks.
#include "vm_manager/router.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vmctl::test::TempDir;

// What a fake backend was asked to do, per operation.
struct Calls {
  std::mutex lock;  // backends may be called from several threads at once
  std::map<std::string, int> count;
  int total() const {
    int n = 0;
    for (const auto& [op, c] : count) n += c;
    return n;
  }
  int operator[](const std::string& op) const {
    auto it = count.find(op);
    return it == count.end() ? 0 : it->second;
  }
};

// Records every call and answers with values that name its own tag.
class RecordingHypervisor final : public Hypervisor {
 public:
  RecordingHypervisor(std::string tag, std::shared_ptr<Calls> calls, std::string reply_tag)
      : tag_(tag), reply_tag_(reply_tag), calls_(std::move(calls)) {}

  VmHandle prepare(const VmSpec& spec) override {
    record("prepare");
    VmHandle h;
    h.id = "id-" + tag_;
    h.name = spec.name;
    h.backend = reply_tag_;
    return h;
  }
  VmHandle start(const VmHandle& handle) override { return touched(handle, "start"); }
  VmHandle stop(const VmHandle& handle, std::chrono::milliseconds timeout) override {
    last_stop_timeout = timeout;
    return touched(handle, "stop");
  }
  VmHandle suspend(const VmHandle& handle) override { return touched(handle, "suspend"); }
  VmHandle resume(const VmHandle& handle) override { return touched(handle, "resume"); }
  VmHandle create_snapshot(const VmHandle& handle, const std::string&, SnapshotMemory) override {
    return touched(handle, "create_snapshot");
  }
  std::vector<SnapshotInfo> list_snapshots(const VmHandle&) override {
    record("list_snapshots");
    return {SnapshotInfo{"snap-of-" + tag_}};
  }
  VmHandle restore_snapshot(const VmHandle& handle, const std::string&) override {
    return touched(handle, "restore_snapshot");
  }
  VmHandle delete_snapshot(const VmHandle& handle, const std::string&) override {
    return touched(handle, "delete_snapshot");
  }
  VmHandle hard_reset(const VmHandle& handle) override { return touched(handle, "hard_reset"); }
  VmHandle resize(const VmHandle& handle, const VmResize&) override { return touched(handle, "resize"); }
  void destroy(VmHandle) override { record("destroy"); }
  VmState state(const VmHandle&) override {
    record("state");
    return tag_ == "qemu" ? VmState::running : VmState::suspended;
  }
  std::string guest_ip(const VmHandle&) override {
    record("guest_ip");
    return "ip-of-" + tag_;
  }
  nlohmann::json describe(const VmHandle&) override {
    record("describe");
    return {{"described_by", tag_}};
  }
  ConsoleEndpoint console_endpoint(const VmHandle&) override {
    record("console_endpoint");
    return UnixSocketConsole{"console-of-" + tag_};
  }

  std::chrono::milliseconds last_stop_timeout{0};

 private:
  void record(const std::string& op) {
    std::lock_guard<std::mutex> hold(calls_->lock);
    calls_->count[op] += 1;
  }
  VmHandle touched(const VmHandle& handle, const std::string& op) {
    record(op);
    VmHandle h = handle;
    h.ssh_host = op + "-by-" + tag_;
    return h;
  }

  std::string tag_;
  std::string reply_tag_;
  std::shared_ptr<Calls> calls_;
};

struct Fakes {
  std::shared_ptr<Calls> qemu = std::make_shared<Calls>();
  std::shared_ptr<Calls> noop = std::make_shared<Calls>();
  std::map<std::string, int> factory_calls;
  std::optional<fs::path> context_root;
  std::optional<std::string> context_bridge;
};

BackendFactory recording_factory(std::string tag, std::shared_ptr<Calls> calls, Fakes& fakes,
                                 std::optional<std::string> reply_tag = std::nullopt) {
  return [tag, calls, &fakes, reply_tag](const BackendContext& ctx) -> std::unique_ptr<Hypervisor> {
    fakes.factory_calls[tag] += 1;
    fakes.context_root = ctx.data_dir.root();
    fakes.context_bridge = ctx.bridge;
    return std::make_unique<RecordingHypervisor>(tag, calls, reply_tag.value_or(tag));
  };
}

VmSpec spec_named(const std::string& name) {
  VmSpec spec;
  spec.name = name;
  return spec;
}

VmHandle handle_for(std::string tag) {
  VmHandle h;
  h.name = "web";
  h.backend = tag;
  return h;
}

void expect_error(std::string_view code, const std::function<void()>& f, std::string_view message = {},
                  std::string_view help = {}) {
  try {
    f();
    ADD_FAILURE() << "expected an Error with code " << code;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.message();
    EXPECT_FALSE(e.message().empty());
    EXPECT_FALSE(e.help().empty()) << e.message();
    if (!message.empty()) {
      EXPECT_EQ(e.message(), message);
    }
    if (!help.empty()) {
      EXPECT_EQ(e.help(), help);
    }
  }
}

class Router : public ::testing::Test {
 protected:
  Router() : router(make_router()) {}

  RouterHypervisor make_router() {
    BackendRegistry registry;
    registry.add("qemu", recording_factory("qemu", fakes.qemu, fakes), BackendDefault::platform);
    registry.add("noop", recording_factory("noop", fakes.noop, fakes));
    registry.add_unavailable("propolis", "propolis needs illumos", "use --backend qemu");
    return RouterHypervisor(BackendContext{DataDir(temp / "data"), std::string("br7"), std::nullopt, {}},
                            std::move(registry));
  }

  TempDir temp;
  Fakes fakes;
  RouterHypervisor router;
};

TEST_F(Router, BuildsEachBackendOnceOnFirstUseWithTheContext) {
  EXPECT_TRUE(fakes.factory_calls.empty()) << "no backend is built before a call needs it";
  router.state(handle_for("noop"));
  router.state(handle_for("noop"));
  EXPECT_EQ(fakes.factory_calls["noop"], 1);
  EXPECT_EQ(fakes.factory_calls.count("qemu"), 0u);
  EXPECT_EQ(fakes.context_root, temp / "data");
  EXPECT_EQ(fakes.context_bridge, "br7");
  EXPECT_EQ((*fakes.noop)["state"], 2);
  EXPECT_EQ(fakes.qemu->total(), 0);
}

TEST_F(Router, ThreadsAskingAtOnceBuildABackendOnce) {
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([this] { router.state(handle_for("qemu")); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(fakes.factory_calls["qemu"], 1);
  EXPECT_EQ((*fakes.qemu)["state"], 8);
}

TEST_F(Router, DefaultAndAvailability) {
  EXPECT_EQ(router.default_backend(), "qemu");
  EXPECT_TRUE(router.available("qemu"));
  EXPECT_TRUE(router.available("noop"));
  EXPECT_FALSE(router.available("propolis"));
}

TEST_F(Router, PrepareWithoutBackendGoesToTheDefault) {
  VmHandle h = router.prepare(spec_named("web"));
  EXPECT_EQ(h.backend, "qemu");
  EXPECT_EQ(h.id, "id-qemu");
  EXPECT_EQ(h.name, "web");
  EXPECT_EQ((*fakes.qemu)["prepare"], 1);
  EXPECT_EQ(fakes.qemu->total(), 1);
  EXPECT_EQ(fakes.noop->total(), 0);
}

TEST_F(Router, PrepareWithBackendGoesThere) {
  VmSpec spec = spec_named("web");
  spec.backend = "noop";
  VmHandle h = router.prepare(spec);
  EXPECT_EQ(h.backend, "noop");
  EXPECT_EQ(h.id, "id-noop");
  EXPECT_EQ((*fakes.noop)["prepare"], 1);
  EXPECT_EQ(fakes.noop->total(), 1);
  EXPECT_EQ(fakes.qemu->total(), 0);

  spec.backend = "qemu";
  EXPECT_EQ(router.prepare(spec).backend, "qemu");
  EXPECT_EQ((*fakes.qemu)["prepare"], 1);
  EXPECT_EQ(fakes.noop->total(), 1);
}

TEST_F(Router, EveryOtherOperationGoesToTheHandlesBackend) {
  for (std::string tag : {"noop", "qemu"}) {
    SCOPED_TRACE(tag);
    const std::string suffix = "-by-" + tag;
    std::shared_ptr<Calls> mine = tag == "qemu" ? fakes.qemu : fakes.noop;
    std::shared_ptr<Calls> other = tag == "qemu" ? fakes.noop : fakes.qemu;
    const int other_before = other->total();
    VmHandle h = handle_for(tag);

    EXPECT_EQ(router.start(h).ssh_host, "start" + suffix);
    EXPECT_EQ(router.stop(h, 1234ms).ssh_host, "stop" + suffix);
    EXPECT_EQ(router.suspend(h).ssh_host, "suspend" + suffix);
    EXPECT_EQ(router.resume(h).ssh_host, "resume" + suffix);
    router.destroy(h);
    EXPECT_EQ(router.state(h), tag == "qemu" ? VmState::running : VmState::suspended);
    EXPECT_EQ(router.guest_ip(h), "ip-of-" + tag);
    EXPECT_EQ(router.console_endpoint(h),
              ConsoleEndpoint{UnixSocketConsole{"console-of-" + tag}});
    EXPECT_EQ(router.create_snapshot(h, "s", SnapshotMemory::include).ssh_host, "create_snapshot" + suffix);
    EXPECT_EQ(router.list_snapshots(h).at(0).name, "snap-of-" + tag);
    EXPECT_EQ(router.restore_snapshot(h, "s").ssh_host, "restore_snapshot" + suffix);
    EXPECT_EQ(router.delete_snapshot(h, "s").ssh_host, "delete_snapshot" + suffix);
    EXPECT_EQ(router.hard_reset(h).ssh_host, "hard_reset" + suffix);
    EXPECT_EQ(router.resize(h, VmResize{}).ssh_host, "resize" + suffix);

    for (const char* op : {"start", "stop", "suspend", "resume", "destroy", "state", "guest_ip", "console_endpoint",
                           "create_snapshot", "list_snapshots", "restore_snapshot", "delete_snapshot", "hard_reset",
                           "resize"}) {
      EXPECT_EQ((*mine)[op], 1) << op;
    }
    EXPECT_EQ((*mine)["prepare"], 0);
    EXPECT_EQ(mine->total(), 14);
    EXPECT_EQ(other->total(), other_before);
  }
}

TEST_F(Router, HandleFieldsPassThroughUnchanged) {
  VmHandle h = handle_for("noop");
  h.backend_state = BackendState{2, {{"pid", 77}}};
  h.work_dir = "/somewhere";
  VmHandle back = router.start(h);
  EXPECT_EQ(back.backend_state, h.backend_state);
  EXPECT_EQ(back.work_dir, "/somewhere");
  EXPECT_EQ(back.backend, "noop");
}

TEST_F(Router, DescribeAsksTheHandlesBackend) {
  EXPECT_EQ(router.describe(handle_for("qemu")), nlohmann::json({{"described_by", "qemu"}}));
  EXPECT_EQ(router.describe(handle_for("noop")), nlohmann::json({{"described_by", "noop"}}));
  EXPECT_EQ((*fakes.qemu)["describe"], 1);
  expect_error(errc::backend_not_available, [&] { router.describe(handle_for("propolis")); });
}

TEST_F(Router, UnavailableBackendRaisesItsMessageAndHelp) {
  VmSpec spec = spec_named("web");
  spec.backend = "propolis";
  const char* message = "propolis needs illumos";
  const char* help = "use --backend qemu";
  expect_error(errc::backend_not_available, [&] { router.prepare(spec); }, message, help);
  VmHandle h = handle_for("propolis");
  expect_error(errc::backend_not_available, [&] { router.start(h); }, message, help);
  expect_error(errc::backend_not_available, [&] { router.stop(h, 1s); }, message, help);
  expect_error(errc::backend_not_available, [&] { router.suspend(h); }, message, help);
  expect_error(errc::backend_not_available, [&] { router.resume(h); }, message, help);
  expect_error(errc::backend_not_available, [&] { router.destroy(h); }, message, help);
  expect_error(errc::backend_not_available, [&] { router.state(h); }, message, help);
  expect_error(errc::backend_not_available, [&] { router.guest_ip(h); }, message, help);
  expect_error(errc::backend_not_available, [&] { router.console_endpoint(h); }, message, help);
  EXPECT_EQ(fakes.qemu->total(), 0);
  EXPECT_EQ(fakes.noop->total(), 0);
}

TEST(RouterRegistry, UnregisteredBackendIsNotAvailable) {
  TempDir temp;
  Fakes fakes;
  BackendRegistry registry;
  registry.add("noop", recording_factory("noop", fakes.noop, fakes), BackendDefault::platform);
  RouterHypervisor router(BackendContext{DataDir(temp / "data"), std::nullopt, std::nullopt, {}}, std::move(registry));
  EXPECT_FALSE(router.available("propolis"));
  EXPECT_FALSE(router.available("qemu"));
  VmSpec spec = spec_named("web");
  spec.backend = "propolis";
  expect_error(errc::backend_not_available, [&] { router.prepare(spec); });
  expect_error(errc::backend_not_available, [&] { router.start(handle_for("qemu")); });
  try {
    router.guest_ip(handle_for("propolis"));
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("propolis"), std::string::npos) << e.message();
  }
  EXPECT_EQ(fakes.noop->total(), 0);
}

TEST_F(Router, PrepareValidatesTheSpecBeforeAnyBackend) {
  for (std::optional<std::string> backend :
       {std::optional<std::string>(), std::optional<std::string>("noop"), std::optional<std::string>("propolis")}) {
    VmSpec bad_name = spec_named("../web");
    bad_name.backend = backend;
    expect_error(errc::vm_invalid_name, [&] { router.prepare(bad_name); });
    VmSpec bad_vcpus = spec_named("web");
    bad_vcpus.backend = backend;
    bad_vcpus.vcpus = 0;
    expect_error(errc::spec_invalid, [&] { router.prepare(bad_vcpus); });
    VmSpec bad_bridge = spec_named("web");
    bad_bridge.backend = backend;
    bad_bridge.network = TapNetwork{"br0,x"};
    expect_error(errc::spec_invalid, [&] { router.prepare(bad_bridge); });
  }
  EXPECT_EQ(fakes.qemu->total(), 0);
  EXPECT_EQ(fakes.noop->total(), 0);
}

TEST(RouterRegistry, BackendReturningTheWrongTagIsAMismatch) {
  TempDir temp;
  Fakes fakes;
  BackendRegistry registry;
  // The "qemu" backend claims its VMs for noop.
  registry.add("qemu", recording_factory("qemu", fakes.qemu, fakes, "noop"), BackendDefault::platform);
  registry.add("noop", recording_factory("noop", fakes.noop, fakes));
  RouterHypervisor router(BackendContext{DataDir(temp / "data"), std::nullopt, std::nullopt, {}}, std::move(registry));
  expect_error(errc::backend_mismatch, [&] { router.prepare(spec_named("web")); });
  EXPECT_EQ((*fakes.qemu)["prepare"], 1);
  EXPECT_EQ(fakes.noop->total(), 0);
}

// Hypervisor::prepare promises that on failure nothing it created remains,
// also when the router rejects the backend's handle.
TEST(RouterRegistry, MismatchDestroysWhatTheBackendPrepared) {
  TempDir temp;
  Fakes fakes;
  BackendRegistry registry;
  registry.add("qemu", recording_factory("qemu", fakes.qemu, fakes, "noop"), BackendDefault::platform);
  RouterHypervisor router(BackendContext{DataDir(temp / "data"), std::nullopt, std::nullopt, {}}, std::move(registry));
  expect_error(errc::backend_mismatch, [&] { router.prepare(spec_named("web")); });
  EXPECT_EQ((*fakes.qemu)["destroy"], 1);
}

TEST(RouterRegistry, FirstPlatformDefaultWins) {
  TempDir temp;
  Fakes fakes;
  BackendRegistry registry;
  registry.add("noop", recording_factory("noop", fakes.noop, fakes));
  registry.add("qemu", recording_factory("qemu", fakes.qemu, fakes), BackendDefault::platform);
  registry.add("propolis", recording_factory("propolis", fakes.noop, fakes), BackendDefault::platform);
  RouterHypervisor router(BackendContext{DataDir(temp / "data"), std::nullopt, std::nullopt, {}}, std::move(registry));
  EXPECT_EQ(router.default_backend(), "qemu");
}

TEST(RouterRegistry, WithoutAPlatformDefaultTheFallbackIsTheDefault) {
  TempDir temp;
  Fakes fakes;
  BackendRegistry registry;
  registry.add("qemu", recording_factory("qemu", fakes.qemu, fakes));
  registry.add("noop", recording_factory("noop", fakes.noop, fakes), BackendDefault::fallback);
  RouterHypervisor router(BackendContext{DataDir(temp / "data"), std::nullopt, std::nullopt, {}}, std::move(registry));
  EXPECT_EQ(router.default_backend(), "noop");
  EXPECT_EQ(router.prepare(spec_named("web")).backend, "noop");
  EXPECT_EQ(fakes.qemu->total(), 0);
}

TEST(RouterRegistry, APlatformDefaultBeatsAnEarlierFallback) {
  BackendRegistry registry;
  Fakes fakes;
  registry.add("noop", recording_factory("noop", fakes.noop, fakes), BackendDefault::fallback);
  registry.add("qemu", recording_factory("qemu", fakes.qemu, fakes), BackendDefault::platform);
  EXPECT_EQ(registry.default_id(), "qemu");
  // An unavailable backend is nobody's default.
  registry.add_unavailable("qemu", "not here", "use noop");
  EXPECT_EQ(registry.default_id(), "noop");
}

TEST(RouterRegistry, WithoutAnyDefaultASpecMustNameItsBackend) {
  TempDir temp;
  Fakes fakes;
  BackendRegistry registry;
  registry.add("qemu", recording_factory("qemu", fakes.qemu, fakes));
  RouterHypervisor router(BackendContext{DataDir(temp / "data"), std::nullopt, std::nullopt, {}}, std::move(registry));
  EXPECT_EQ(router.default_backend(), "");
  expect_error(errc::backend_not_available, [&] { router.prepare(spec_named("web")); },
               "this build has no default backend");
  VmSpec named = spec_named("web");
  named.backend = "qemu";
  EXPECT_EQ(router.prepare(named).backend, "qemu");
}

// The registry is the one list of backends: ids in the order registered, a
// second registration replacing the first in its place.
TEST(RouterRegistry, IdsInRegistrationOrder) {
  BackendRegistry registry;
  Fakes fakes;
  registry.add("zeta", recording_factory("zeta", fakes.noop, fakes));
  registry.add_left_out("alpha");
  registry.add("mid", recording_factory("mid", fakes.noop, fakes));
  registry.add("alpha", recording_factory("alpha", fakes.noop, fakes));
  EXPECT_EQ(registry.ids(), (std::vector<std::string>{"zeta", "alpha", "mid"}));
  EXPECT_TRUE(registry.contains("alpha"));
  EXPECT_FALSE(registry.contains("alph"));
  EXPECT_EQ(registry.default_id(), std::nullopt);
}

TEST(RouterRegistry, LeftOutAndUnknownBackendsAreNotAvailable) {
  TempDir temp;
  Fakes fakes;
  BackendRegistry registry;
  registry.add("noop", recording_factory("noop", fakes.noop, fakes), BackendDefault::fallback);
  registry.add_left_out("qemu");
  RouterHypervisor router(BackendContext{DataDir(temp / "data"), std::nullopt, std::nullopt, {}}, std::move(registry));
  expect_error(errc::backend_not_available, [&] { router.start(handle_for("qemu")); },
               "the qemu backend is not available in this build", "choose another backend, or a build with this one");
  // An id no backend of this tree has, as a record from elsewhere may hold.
  expect_error(errc::backend_not_available, [&] { router.state(handle_for("xen")); },
               "there is no backend 'xen' in this build");
  EXPECT_EQ(fakes.noop->total(), 0);
}

TEST(RouterRegistry, NoopOnly) {
  TempDir temp;
  DataDir data(temp / "data");
  RouterHypervisor router = RouterHypervisor::noop_only(data);
  EXPECT_EQ(router.default_backend(), "noop");
  EXPECT_TRUE(router.available("noop"));
  EXPECT_FALSE(router.available("qemu"));
  EXPECT_FALSE(router.available("propolis"));

  // A real noop VM in the given data dir.
  VmHandle h = router.prepare(spec_named("web"));
  EXPECT_EQ(h.backend, "noop");
  EXPECT_EQ(fs::path(h.work_dir), data.vm_dir("web"));
  EXPECT_TRUE(fs::is_directory(data.vm_dir("web")));
  EXPECT_EQ(router.state(h), VmState::prepared);
  h = router.start(h);
  EXPECT_EQ(router.state(h), VmState::running);
  router.destroy(h);
  EXPECT_EQ(router.state(h), VmState::destroyed);

  VmSpec spec = spec_named("db");
  spec.backend = "qemu";
  expect_error(errc::backend_not_available, [&] { router.prepare(spec); });
  EXPECT_FALSE(fs::exists(data.vm_dir("db")));
}

TEST(RouterRegistry, BuiltinOnLinux) {
#ifndef __linux__
  GTEST_SKIP() << "checks the Linux registry";
#endif
  TempDir temp;
  // Every backend of the source tree is registered, built or left out, in
  // the order of src/backends/CMakeLists.txt.
  EXPECT_EQ(BackendRegistry::builtin().ids(), (std::vector<std::string>{"noop", "qemu", "propolis", "libvirt"}));
  for (const std::string& id : BackendRegistry::builtin().ids()) EXPECT_TRUE(is_backend_id(id)) << id;
  RouterHypervisor router(BackendContext{DataDir(temp / "data"), std::nullopt, std::nullopt, {}},
                          BackendRegistry::builtin());
  EXPECT_TRUE(router.available("noop"));
  EXPECT_FALSE(router.available("propolis"));
  EXPECT_TRUE(router.available(router.default_backend()));
#if VMCTL_WITH_QEMU
  EXPECT_EQ(router.default_backend(), "qemu");
#else
  EXPECT_EQ(router.default_backend(), "noop");
  EXPECT_FALSE(router.available("qemu"));
#endif

  VmSpec spec = spec_named("web");
  spec.backend = "propolis";
  expect_error(errc::backend_not_available, [&] { router.prepare(spec); });
  expect_error(errc::backend_not_available, [&] { router.state(handle_for("propolis")); });
  EXPECT_FALSE(fs::exists(temp / "data" / "vms" / "web"));

  spec.backend = "noop";
  VmHandle h = router.prepare(spec);
  EXPECT_EQ(h.backend, "noop");
  EXPECT_EQ(router.state(h), VmState::prepared);
}

}  // namespace
}  // namespace vm_manager
