// Logger: how library code writes a diagnostic line. It formats with fmt and
// hands the line to the LogSink the embedder configured (vm_manager/log.hpp);
// without a sink it formats nothing and drops the line. There is no global
// logger: a component gets one with its configuration and passes it on.
#pragma once

#include <string>
#include <utility>

#include <fmt/format.h>

#include "vm_manager/log.hpp"

namespace vm_manager {

class Logger {
 public:
  Logger() = default;
  explicit Logger(LogSink sink) : sink_(std::move(sink)) {}

  template <typename... Args>
  void debug(fmt::format_string<Args...> format, Args&&... args) const {
    write(LogLevel::debug, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void info(fmt::format_string<Args...> format, Args&&... args) const {
    write(LogLevel::info, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void warn(fmt::format_string<Args...> format, Args&&... args) const {
    write(LogLevel::warn, format, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void error(fmt::format_string<Args...> format, Args&&... args) const {
    write(LogLevel::error, format, std::forward<Args>(args)...);
  }

  const LogSink& sink() const { return sink_; }

 private:
  template <typename... Args>
  void write(LogLevel level, fmt::format_string<Args...> format, Args&&... args) const {
    if (!sink_) return;
    const std::string line = fmt::format(format, std::forward<Args>(args)...);
    sink_(level, line);
  }

  LogSink sink_;
};

}  // namespace vm_manager
