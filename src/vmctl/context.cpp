#include "vmctl/context.hpp"

#include <cstdio>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "vm_manager/error.hpp"
#include "vmctl/environment.hpp"
#include "vmctl/progress_bar.hpp"

namespace vmctl {
using namespace vm_manager;

const Environment& Context::environment() {
  if (!environment_) environment_ = process_environment();
  return *environment_;
}

const DataDir& Context::data_dir() {
  if (!data_dir_) {
    data_dir_ = DataDir::resolve(options.data_dir, environment(),
                                 options.allow_foreign_owner ? ForeignOwner::allow : ForeignOwner::refuse);
  }
  return *data_dir_;
}

namespace {

spdlog::level::level_enum spdlog_level(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return spdlog::level::debug;
    case LogLevel::info: return spdlog::level::info;
    case LogLevel::warn: return spdlog::level::warn;
    case LogLevel::error: return spdlog::level::err;
  }
  return spdlog::level::err;
}

bool pulls_shown(const Context& ctx) { return ctx.pull_output == PullOutput::shown && !ctx.options.quiet; }

// The cache's info lines are what a pull does ("Downloading …"): shown
// plainly, as status lines, or not at all; anything else is a diagnostic.
// Whether they are shown is asked at each line: a command may decide after
// the manager was made (VMFile commands hide them).
LogSink image_log(const Context& ctx, LogSink diagnostics) {
  return [&ctx, diagnostics = std::move(diagnostics)](LogLevel level, std::string_view message) {
    if (level != LogLevel::info) {
      diagnostics(level, message);
    } else if (pulls_shown(ctx)) {
      std::fprintf(stderr, "%.*s\n", static_cast<int>(message.size()), message.data());
    }
  };
}

}  // namespace

LogSink Context::log_sink() const {
  return [](LogLevel level, std::string_view message) { spdlog::log(spdlog_level(level), "{}", message); };
}

ProgressCallback Context::download_progress() const {
  if (!pulls_shown(*this)) return {};
  return terminal_progress_bar();
}

VmManager& Context::manager() {
  if (!manager_) {
    ManagerConfig config(data_dir(), environment());
    config.locks.timeout = lock_timeout(environment());
    config.log = log_sink();
    config.image_log = image_log(*this, log_sink());
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
