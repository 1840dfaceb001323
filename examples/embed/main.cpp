// Embedding vm-manager: drive a VM through its whole lifecycle on the noop
// backend, keeping its handle in the library's store as vmctl does.
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
    DataDir data_dir(argv[1]);
    RouterHypervisor hypervisor = RouterHypervisor::noop_only(data_dir);
    VmStore store(data_dir);

    VmSpec spec;
    spec.name = "embedded";
    spec.vcpus = 2;
    spec.memory_mb = 512;

    VmLock lock = store.lock(spec.name);
    VmRecord record = store.create(lock, spec, [&](const VmSpec& s) { return hypervisor.prepare(s); });
    auto step = [&](const char* what, VmHandle handle) {
      record.handle = std::move(handle);
      store.save(lock, record);
      std::printf("%-8s -> %s\n", what, std::string(to_string(hypervisor.state(record.handle))).c_str());
    };
    step("prepare", record.handle);
    step("start", hypervisor.start(record.handle));
    step("suspend", hypervisor.suspend(record.handle));
    step("resume", hypervisor.resume(record.handle));
    step("stop", hypervisor.stop(record.handle, std::chrono::seconds(5)));

    std::printf("handle: %s\n", nlohmann::json(record.handle).dump().c_str());
    hypervisor.destroy(record.handle);
    store.remove(std::move(lock));
    std::printf("destroy  -> %s\n", std::string(to_string(hypervisor.state(record.handle))).c_str());
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "error[%s]: %s\n  help: %s\n", e.code().c_str(), e.message().c_str(), e.help().c_str());
    return 1;
  }
}
