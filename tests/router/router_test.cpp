// RouterHypervisor: each call reaches the backend that owns the VM, and
// nothing reaches a backend the build or host lacks.
#include "vm_manager/router.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "support/temp_dir.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vmctl::test::TempDir;

// What a fake backend was asked to do, per operation.
struct Calls {
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
  RecordingHypervisor(BackendTag tag, std::shared_ptr<Calls> calls, BackendTag reply_tag)
      : tag_(tag), reply_tag_(reply_tag), calls_(std::move(calls)) {}

  VmHandle prepare(const VmSpec& spec) override {
    record("prepare");
    VmHandle h;
    h.id = "id-" + std::string(to_string(tag_));
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
  void destroy(VmHandle) override { record("destroy"); }
  VmState state(const VmHandle&) override {
    record("state");
    return tag_ == BackendTag::qemu ? VmState::running : VmState::suspended;
  }
  std::string guest_ip(const VmHandle&) override {
    record("guest_ip");
    return "ip-of-" + std::string(to_string(tag_));
  }
  ConsoleEndpoint console_endpoint(const VmHandle&) override {
    record("console_endpoint");
    return UnixSocketConsole{"console-of-" + std::string(to_string(tag_))};
  }

  std::chrono::milliseconds last_stop_timeout{0};

 private:
  void record(const std::string& op) { calls_->count[op] += 1; }
  VmHandle touched(const VmHandle& handle, const std::string& op) {
    record(op);
    VmHandle h = handle;
    h.mac = op + "-by-" + std::string(to_string(tag_));
    return h;
  }

  BackendTag tag_;
  BackendTag reply_tag_;
  std::shared_ptr<Calls> calls_;
};

struct Fakes {
  std::shared_ptr<Calls> qemu = std::make_shared<Calls>();
  std::shared_ptr<Calls> noop = std::make_shared<Calls>();
  std::map<BackendTag, int> factory_calls;
  std::optional<fs::path> context_root;
  std::optional<std::string> context_bridge;
};

BackendFactory recording_factory(BackendTag tag, std::shared_ptr<Calls> calls, Fakes& fakes,
                                 std::optional<BackendTag> reply_tag = std::nullopt) {
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

VmHandle handle_for(BackendTag tag) {
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
    registry.add(BackendTag::qemu, recording_factory(BackendTag::qemu, fakes.qemu, fakes), true);
    registry.add(BackendTag::noop, recording_factory(BackendTag::noop, fakes.noop, fakes));
    registry.add_unavailable(BackendTag::propolis, "propolis needs illumos", "use --backend qemu");
    return RouterHypervisor(BackendContext{DataDir(temp / "data"), std::string("br7"), std::nullopt, {}},
                            std::move(registry));
  }

  TempDir temp;
  Fakes fakes;
  RouterHypervisor router;
};

TEST_F(Router, BuildsEachAvailableBackendOnceWithTheContext) {
  EXPECT_EQ(fakes.factory_calls[BackendTag::qemu], 1);
  EXPECT_EQ(fakes.factory_calls[BackendTag::noop], 1);
  EXPECT_EQ(fakes.factory_calls.count(BackendTag::propolis), 0u);
  EXPECT_EQ(fakes.context_root, temp / "data");
  EXPECT_EQ(fakes.context_bridge, "br7");
  EXPECT_EQ(fakes.qemu->total(), 0);
  EXPECT_EQ(fakes.noop->total(), 0);
}

TEST_F(Router, DefaultAndAvailability) {
  EXPECT_EQ(router.default_backend(), BackendTag::qemu);
  EXPECT_TRUE(router.available(BackendTag::qemu));
  EXPECT_TRUE(router.available(BackendTag::noop));
  EXPECT_FALSE(router.available(BackendTag::propolis));
}

TEST_F(Router, PrepareWithoutBackendGoesToTheDefault) {
  VmHandle h = router.prepare(spec_named("web"));
  EXPECT_EQ(h.backend, BackendTag::qemu);
  EXPECT_EQ(h.id, "id-qemu");
  EXPECT_EQ(h.name, "web");
  EXPECT_EQ((*fakes.qemu)["prepare"], 1);
  EXPECT_EQ(fakes.qemu->total(), 1);
  EXPECT_EQ(fakes.noop->total(), 0);
}

TEST_F(Router, PrepareWithBackendGoesThere) {
  VmSpec spec = spec_named("web");
  spec.backend = BackendTag::noop;
  VmHandle h = router.prepare(spec);
  EXPECT_EQ(h.backend, BackendTag::noop);
  EXPECT_EQ(h.id, "id-noop");
  EXPECT_EQ((*fakes.noop)["prepare"], 1);
  EXPECT_EQ(fakes.noop->total(), 1);
  EXPECT_EQ(fakes.qemu->total(), 0);

  spec.backend = BackendTag::qemu;
  EXPECT_EQ(router.prepare(spec).backend, BackendTag::qemu);
  EXPECT_EQ((*fakes.qemu)["prepare"], 1);
  EXPECT_EQ(fakes.noop->total(), 1);
}

TEST_F(Router, EveryOtherOperationGoesToTheHandlesBackend) {
  for (BackendTag tag : {BackendTag::noop, BackendTag::qemu}) {
    SCOPED_TRACE(std::string(to_string(tag)));
    const std::string suffix = "-by-" + std::string(to_string(tag));
    std::shared_ptr<Calls> mine = tag == BackendTag::qemu ? fakes.qemu : fakes.noop;
    std::shared_ptr<Calls> other = tag == BackendTag::qemu ? fakes.noop : fakes.qemu;
    const int other_before = other->total();
    VmHandle h = handle_for(tag);

    EXPECT_EQ(router.start(h).mac, "start" + suffix);
    EXPECT_EQ(router.stop(h, 1234ms).mac, "stop" + suffix);
    EXPECT_EQ(router.suspend(h).mac, "suspend" + suffix);
    EXPECT_EQ(router.resume(h).mac, "resume" + suffix);
    router.destroy(h);
    EXPECT_EQ(router.state(h), tag == BackendTag::qemu ? VmState::running : VmState::suspended);
    EXPECT_EQ(router.guest_ip(h), "ip-of-" + std::string(to_string(tag)));
    EXPECT_EQ(router.console_endpoint(h),
              ConsoleEndpoint{UnixSocketConsole{"console-of-" + std::string(to_string(tag))}});

    for (const char* op : {"start", "stop", "suspend", "resume", "destroy", "state", "guest_ip", "console_endpoint"}) {
      EXPECT_EQ((*mine)[op], 1) << op;
    }
    EXPECT_EQ((*mine)["prepare"], 0);
    EXPECT_EQ(mine->total(), 8);
    EXPECT_EQ(other->total(), other_before);
  }
}

TEST_F(Router, HandleFieldsPassThroughUnchanged) {
  VmHandle h = handle_for(BackendTag::noop);
  h.pid = 77;
  h.work_dir = "/somewhere";
  VmHandle back = router.start(h);
  EXPECT_EQ(back.pid, 77);
  EXPECT_EQ(back.work_dir, "/somewhere");
  EXPECT_EQ(back.backend, BackendTag::noop);
}

TEST_F(Router, UnavailableBackendRaisesItsMessageAndHelp) {
  VmSpec spec = spec_named("web");
  spec.backend = BackendTag::propolis;
  const char* message = "propolis needs illumos";
  const char* help = "use --backend qemu";
  expect_error(errc::backend_not_available, [&] { router.prepare(spec); }, message, help);
  VmHandle h = handle_for(BackendTag::propolis);
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
  registry.add(BackendTag::noop, recording_factory(BackendTag::noop, fakes.noop, fakes), true);
  RouterHypervisor router(BackendContext{DataDir(temp / "data"), std::nullopt, std::nullopt, {}}, std::move(registry));
  EXPECT_FALSE(router.available(BackendTag::propolis));
  EXPECT_FALSE(router.available(BackendTag::qemu));
  VmSpec spec = spec_named("web");
  spec.backend = BackendTag::propolis;
  expect_error(errc::backend_not_available, [&] { router.prepare(spec); });
  expect_error(errc::backend_not_available, [&] { router.start(handle_for(BackendTag::qemu)); });
  try {
    router.guest_ip(handle_for(BackendTag::propolis));
  } catch (const Error& e) {
    EXPECT_NE(e.message().find("propolis"), std::string::npos) << e.message();
  }
  EXPECT_EQ(fakes.noop->total(), 0);
}

TEST_F(Router, PrepareValidatesTheSpecBeforeAnyBackend) {
  for (std::optional<BackendTag> backend :
       {std::optional<BackendTag>(), std::optional(BackendTag::noop), std::optional(BackendTag::propolis)}) {
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
  registry.add(BackendTag::qemu, recording_factory(BackendTag::qemu, fakes.qemu, fakes, BackendTag::noop), true);
  registry.add(BackendTag::noop, recording_factory(BackendTag::noop, fakes.noop, fakes));
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
  registry.add(BackendTag::qemu, recording_factory(BackendTag::qemu, fakes.qemu, fakes, BackendTag::noop), true);
  RouterHypervisor router(BackendContext{DataDir(temp / "data"), std::nullopt, std::nullopt, {}}, std::move(registry));
  expect_error(errc::backend_mismatch, [&] { router.prepare(spec_named("web")); });
  EXPECT_EQ((*fakes.qemu)["destroy"], 1);
}

TEST(RouterRegistry, FirstPlatformDefaultWins) {
  TempDir temp;
  Fakes fakes;
  BackendRegistry registry;
  registry.add(BackendTag::noop, recording_factory(BackendTag::noop, fakes.noop, fakes));
  registry.add(BackendTag::qemu, recording_factory(BackendTag::qemu, fakes.qemu, fakes), true);
  registry.add(BackendTag::propolis, recording_factory(BackendTag::propolis, fakes.noop, fakes), true);
  RouterHypervisor router(BackendContext{DataDir(temp / "data"), std::nullopt, std::nullopt, {}}, std::move(registry));
  EXPECT_EQ(router.default_backend(), BackendTag::qemu);
}

TEST(RouterRegistry, WithoutAPlatformDefaultNoopIsTheDefault) {
  TempDir temp;
  Fakes fakes;
  BackendRegistry registry;
  registry.add(BackendTag::qemu, recording_factory(BackendTag::qemu, fakes.qemu, fakes));
  registry.add(BackendTag::noop, recording_factory(BackendTag::noop, fakes.noop, fakes));
  RouterHypervisor router(BackendContext{DataDir(temp / "data"), std::nullopt, std::nullopt, {}}, std::move(registry));
  EXPECT_EQ(router.default_backend(), BackendTag::noop);
  EXPECT_EQ(router.prepare(spec_named("web")).backend, BackendTag::noop);
  EXPECT_EQ(fakes.qemu->total(), 0);
}

TEST(RouterRegistry, NoopOnly) {
  TempDir temp;
  DataDir data(temp / "data");
  RouterHypervisor router = RouterHypervisor::noop_only(data);
  EXPECT_EQ(router.default_backend(), BackendTag::noop);
  EXPECT_TRUE(router.available(BackendTag::noop));
  EXPECT_FALSE(router.available(BackendTag::qemu));
  EXPECT_FALSE(router.available(BackendTag::propolis));

  // A real noop VM in the given data dir.
  VmHandle h = router.prepare(spec_named("web"));
  EXPECT_EQ(h.backend, BackendTag::noop);
  EXPECT_EQ(fs::path(h.work_dir), data.vm_dir("web"));
  EXPECT_TRUE(fs::is_directory(data.vm_dir("web")));
  EXPECT_EQ(router.state(h), VmState::prepared);
  h = router.start(h);
  EXPECT_EQ(router.state(h), VmState::running);
  router.destroy(h);
  EXPECT_EQ(router.state(h), VmState::destroyed);

  VmSpec spec = spec_named("db");
  spec.backend = BackendTag::qemu;
  expect_error(errc::backend_not_available, [&] { router.prepare(spec); });
  EXPECT_FALSE(fs::exists(data.vm_dir("db")));
}

TEST(RouterRegistry, BuiltinOnLinux) {
#ifndef __linux__
  GTEST_SKIP() << "checks the Linux registry";
#endif
  TempDir temp;
  RouterHypervisor router(BackendContext{DataDir(temp / "data"), std::nullopt, std::nullopt, {}},
                          BackendRegistry::builtin());
  EXPECT_TRUE(router.available(BackendTag::noop));
  EXPECT_FALSE(router.available(BackendTag::propolis));
  EXPECT_TRUE(router.available(router.default_backend()));
#if VMCTL_WITH_QEMU
  EXPECT_EQ(router.default_backend(), BackendTag::qemu);
#else
  EXPECT_EQ(router.default_backend(), BackendTag::noop);
  EXPECT_FALSE(router.available(BackendTag::qemu));
#endif

  VmSpec spec = spec_named("web");
  spec.backend = BackendTag::propolis;
  expect_error(errc::backend_not_available, [&] { router.prepare(spec); });
  expect_error(errc::backend_not_available, [&] { router.state(handle_for(BackendTag::propolis)); });
  EXPECT_FALSE(fs::exists(temp / "data" / "vms" / "web"));

  spec.backend = BackendTag::noop;
  VmHandle h = router.prepare(spec);
  EXPECT_EQ(h.backend, BackendTag::noop);
  EXPECT_EQ(router.state(h), VmState::prepared);
}

}  // namespace
}  // namespace vm_manager
