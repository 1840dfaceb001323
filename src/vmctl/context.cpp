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
  if (!data_dir_) data_dir_ = DataDir::resolve(options.data_dir, environment());
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

}  // namespace

LogSink Context::log_sink() const {
  return [](LogLevel level, std::string_view message) { spdlog::log(spdlog_level(level), "{}", message); };
}

image::ImageCacheOptions Context::image_cache_options(PullOutput output) {
  image::ImageCacheOptions cache;
  cache.environment = environment();
  const bool shown = output == PullOutput::shown && !options.quiet;
  if (shown) cache.progress = terminal_progress_bar();
  // The cache's info lines are what a pull does ("Downloading …"): shown
  // plainly, as status lines, or not at all; anything else is a diagnostic.
  cache.log = [shown, diagnostics = log_sink()](LogLevel level, std::string_view message) {
    if (level != LogLevel::info) {
      diagnostics(level, message);
    } else if (shown) {
      std::fprintf(stderr, "%.*s\n", static_cast<int>(message.size()), message.data());
    }
  };
  return cache;
}

VmManager& Context::manager() {
  if (!manager_) {
    ManagerConfig config{data_dir(), environment(), {}, std::nullopt, std::nullopt, BackendRegistry::builtin()};
    config.locks.timeout = lock_timeout(environment());
    config.log = log_sink();
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
