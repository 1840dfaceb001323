#include "vmctl/context.hpp"

#include <charconv>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vmctl {
using namespace vm_manager;

std::chrono::milliseconds lock_timeout_from_env() {
  const char* text = std::getenv("VMCTL_LOCK_TIMEOUT");
  if (text == nullptr || *text == '\0') return LockOptions{}.timeout;
  std::string_view view(text);
  unsigned long seconds = 0;
  auto [end, ec] = std::from_chars(view.data(), view.data() + view.size(), seconds);
  if (ec != std::errc() || end != view.data() + view.size() || seconds > 86400) {
    throw Error(errc::spec_invalid, fmt::format("VMCTL_LOCK_TIMEOUT='{}' is not a number of seconds", view),
                "set it to a whole number of seconds between 0 and 86400, or unset it");
  }
  return std::chrono::seconds(seconds);
}

const DataDir& Context::data_dir() {
  if (!data_dir_) data_dir_ = DataDir::resolve(options.data_dir);
  return *data_dir_;
}

VmStore& Context::store() {
  if (!store_) {
    LockOptions lock_options;
    lock_options.timeout = lock_timeout_from_env();
    lock_options.on_wait = [this](std::string_view name, long holder) {
      std::string by = holder > 0 ? fmt::format(" (pid {})", holder) : "";
      note(fmt::format("waiting for another vmctl command{} working on '{}'…", by, name));
    };
    store_.emplace(data_dir(), std::move(lock_options));
  }
  return *store_;
}

RouterHypervisor& Context::hypervisor() {
  if (!hypervisor_) hypervisor_.emplace(BackendContext{data_dir(), std::nullopt, std::nullopt});
  return *hypervisor_;
}

VmRecord Context::change_vm(const std::string& name, const std::function<VmHandle(const VmRecord&)>& change) {
  VmLock lock = store().lock(name);
  VmRecord record = store().load(name);
  record.handle = change(record);
  store().save(lock, record);
  return record;
}

void Context::say(const std::string& line) const {
  if (!options.quiet) std::fprintf(stdout, "%s\n", line.c_str());
}

void Context::note(const std::string& line) const {
  if (!options.quiet) std::fprintf(stderr, "%s\n", line.c_str());
}

}  // namespace vmctl
