// What every vmctl command shares: global options, the VmManager, and how
// to talk to the user.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "vm_manager/environment.hpp"
#include "vm_manager/manager.hpp"

namespace vmctl {

struct GlobalOptions {
  std::optional<std::filesystem::path> data_dir;
  int verbosity = 0;
  bool quiet = false;
};

class Context {
 public:
  GlobalOptions options;

  // Built on first use, after the command line has been parsed.
  const vm_manager::Environment& environment();
  const vm_manager::DataDir& data_dir();
  vm_manager::VmManager& manager();
  // What hears of image downloads: empty under --quiet.
  vm_manager::ProgressCallback download_progress() const;

  // A line for the user on stdout, unless --quiet.
  void say(const std::string& line) const;
  // A line on stderr, unless --quiet.
  void note(const std::string& line) const;

 private:
  std::optional<vm_manager::Environment> environment_;
  std::optional<vm_manager::DataDir> data_dir_;
  std::unique_ptr<vm_manager::VmManager> manager_;
};

}  // namespace vmctl
