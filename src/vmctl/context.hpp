// What every vmctl command shares: global options, the VmManager, and how
// to talk to the user.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "vm_manager/environment.hpp"
#include "vm_manager/log.hpp"
#include "vm_manager/manager.hpp"

namespace vmctl {

// Whether a pull tells the user what it does: "Downloading …" and the other
// status lines, and a progress bar on a terminal (unless --quiet).
enum class PullOutput { shown, hidden };

struct GlobalOptions {
  std::optional<std::filesystem::path> data_dir;
  // Use a data dir owned by another user (root on a user's dir; docs/cli.md).
  bool allow_foreign_owner = false;
  int verbosity = 0;
  bool quiet = false;
};

class Context {
 public:
  GlobalOptions options;
  // Whether image pulls say what they do (read at each pull).
  PullOutput pull_output = PullOutput::shown;

  // Built on first use, after the command line has been parsed.
  const vm_manager::Environment& environment();
  const vm_manager::DataDir& data_dir();
  vm_manager::VmManager& manager();
  // Where the library's diagnostics go: stderr as "level: message", at the
  // level -v and -q chose (main.cpp sets the logger up).
  vm_manager::LogSink log_sink() const;
  // What draws image downloads: a bar on a terminal, nothing when pulls are
  // hidden or under --quiet.
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
