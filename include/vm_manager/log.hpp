// Where the library's diagnostics go. The library writes nothing to stdout or
// stderr and has no global logger: whoever configures it passes a sink.
#pragma once

#include <functional>
#include <string_view>

namespace vm_manager {

enum class LogLevel { debug, info, warn, error };

// Called with one complete line (no trailing newline), possibly from several
// threads at once; it must not throw. An empty sink drops everything.
using LogSink = std::function<void(LogLevel level, std::string_view message)>;

}  // namespace vm_manager
