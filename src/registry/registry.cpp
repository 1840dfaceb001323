#include "vm_manager/backend_registry.hpp"

namespace vm_manager {

void BackendRegistry::add(BackendTag tag, BackendFactory factory, bool platform_default) {
  entries_[tag] = Entry{std::move(factory), {}, {}};
  if (platform_default && !default_) default_ = tag;
}

std::vector<BackendTag> BackendRegistry::tags() const {
  std::vector<BackendTag> tags;
  for (const auto& [tag, entry] : entries_) tags.push_back(tag);
  return tags;
}

void BackendRegistry::add_unavailable(BackendTag tag, std::string message, std::string help) {
  entries_[tag] = Entry{{}, std::move(message), std::move(help)};
}

}  // namespace vm_manager
