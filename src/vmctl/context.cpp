#include "vmctl/context.hpp"

#include <cstdio>

#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vmctl/environment.hpp"

namespace vmctl {
using namespace vm_manager;

const Environment& Context::environment() {
  if (!environment_) environment_ = process_environment();
  return *environment_;
}

const DataDir& Context::data_dir() {
  if (!data_dir_) data_dir_ = DataDir::resolve(options.data_dir, environment());
  return *data_dir_;
}

ProgressCallback Context::download_progress() const {
  if (options.quiet) return {};
  // The download still draws its own bar while somebody listens; this is
  // where vmctl will draw it once downloads report through the callback.
  return [](const Progress&) {};
}

VmManager& Context::manager() {
  if (!manager_) {
    ManagerConfig config(data_dir(), environment());
    config.locks.timeout = lock_timeout(environment());
    config.locks.on_wait = [this](std::string_view name, long holder) {
      std::string by = holder > 0 ? fmt::format(" (pid {})", holder) : "";
      note(fmt::format("waiting for another vmctl command{} working on '{}'…", by, name));
    };
    manager_ = std::make_unique<VmManager>(std::move(config));
  }
  return *manager_;
}

void Context::say(const std::string& line) const {
  if (!options.quiet) std::fprintf(stdout, "%s\n", line.c_str());
}

void Context::note(const std::string& line) const {
  if (!options.quiet) std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace vmctl
