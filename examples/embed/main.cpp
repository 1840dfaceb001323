// Embedding vm-manager: drive a VM through its whole lifecycle with
// VmManager on the noop backend (which runs nothing), as vmctl does.
//
//   embed <data-dir>
#include <cstdio>
#include <vm_manager/vm_manager.hpp>

using namespace vm_manager;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
    return 2;
  }
  try {
    ManagerConfig config{DataDir(argv[1]), Environment{}, LockOptions{}, std::nullopt, std::nullopt,
                         BackendRegistry::noop_only()};
    VmManager vms(std::move(config));

    VmSpec spec;
    spec.name = "embedded";
    spec.vcpus = 2;
    spec.memory_mb = 512;

    auto show = [&](const char* what, const VmRecord& record) {
      std::printf("%-8s -> %s\n", what, std::string(to_string(vms.state(record.handle))).c_str());
    };
    show("prepare", vms.create(spec));
    show("start", vms.start(spec.name));
    show("suspend", vms.suspend(spec.name));
    show("resume", vms.resume(spec.name));
    VmRecord stopped = vms.stop(spec.name, std::chrono::seconds(5));
    show("stop", stopped);

    std::printf("handle: %s\n", nlohmann::json(stopped.handle).dump().c_str());
    vms.destroy(spec.name);
    show("destroy", stopped);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error[%s]: %s\n  help: %s\n", e.code().c_str(), e.message().c_str(), e.help().c_str());
    return 1;
  }
}
