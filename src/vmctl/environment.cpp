#include "vmctl/environment.hpp"

#include <charconv>
#include <string_view>

#include <fmt/format.h>

#include "vm_manager/error.hpp"
#include "vm_manager/store.hpp"

extern char** environ;

namespace vmctl {
using namespace vm_manager;

Environment process_environment() {
  Environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    std::string_view name = text.substr(0, equals);
    // GITHUB_TOKEN: the image cache's credentials for ghcr.io when no
    // VMCTL_REGISTRY_USERNAME is set.
    if (name == "HOME" || name == "GITHUB_TOKEN" || name.starts_with("XDG_") || name.starts_with("VMCTL_")) {
      env.set(std::string(name), std::string(text.substr(equals + 1)));
    }
  }
  return env;
}

std::chrono::milliseconds lock_timeout(const Environment& env) {
  std::optional<std::string> text = env.get("VMCTL_LOCK_TIMEOUT");
  if (!text) return LockOptions{}.timeout;
  unsigned long seconds = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), seconds);
  if (ec != std::errc() || end != text->data() + text->size() || seconds > 86400) {
    throw Error(errc::spec_invalid, fmt::format("VMCTL_LOCK_TIMEOUT='{}' is not a number of seconds", *text),
                "set it to a whole number of seconds between 0 and 86400, or unset it");
  }
  return std::chrono::seconds(seconds);
}

}  // namespace vmctl
