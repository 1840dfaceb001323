#include "vm_manager/backend_registry.hpp"

#include <algorithm>

namespace vm_manager {

BackendRegistry::Entry& BackendRegistry::entry_for(std::string id) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.id == id; });
  if (it != entries_.end()) return *it;
  return entries_.emplace_back(Entry{std::move(id), {}, {}, {}, BackendDefault::no});
}

void BackendRegistry::add(std::string id, BackendFactory factory, BackendDefault is_default) {
  Entry& entry = entry_for(std::move(id));
  entry.factory = std::move(factory);
  entry.message.clear();
  entry.help.clear();
  entry.is_default = is_default;
}

void BackendRegistry::add_unavailable(std::string id, std::string message, std::string help) {
  Entry& entry = entry_for(std::move(id));
  entry.factory = nullptr;
  entry.message = std::move(message);
  entry.help = std::move(help);
  entry.is_default = BackendDefault::no;
}

void BackendRegistry::add_left_out(std::string id) {
  std::string message = "the " + id + " backend is not available in this build";
  add_unavailable(std::move(id), std::move(message), "choose another backend, or a build with this one");
}

std::vector<std::string> BackendRegistry::ids() const {
  std::vector<std::string> ids;
  for (const Entry& entry : entries_) ids.push_back(entry.id);
  return ids;
}

bool BackendRegistry::contains(std::string_view id) const {
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.id == id; });
}

std::optional<std::string> BackendRegistry::default_id() const {
  for (BackendDefault wanted : {BackendDefault::platform, BackendDefault::fallback}) {
    for (const Entry& entry : entries_) {
      if (entry.factory && entry.is_default == wanted) return entry.id;
    }
  }
  return std::nullopt;
}

}  // namespace vm_manager
