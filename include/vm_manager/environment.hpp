// The settings the library's defaults come from, by the names of
// environment variables (HOME, XDG_*, VMCTL_*). The library never reads the
// process environment itself: a program hands in what it wants the library
// to see. vmctl hands in its own environment; an embedder may hand in none
// (the defaults then need explicit values, such as a data dir) or its own.
#pragma once

#include "vm_manager/export.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace vm_manager {

class VM_MANAGER_API Environment {
 public:
  Environment() = default;
  explicit Environment(std::map<std::string, std::string, std::less<>> values) : values_(std::move(values)) {}

  // The value of `name` when it is set and not empty.
  std::optional<std::string> get(std::string_view name) const {
    auto it = values_.find(name);
    if (it == values_.end() || it->second.empty()) return std::nullopt;
    return it->second;
  }
  void set(std::string name, std::string value) { values_[std::move(name)] = std::move(value); }

 private:
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace vm_manager
