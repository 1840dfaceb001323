// Progress of a long operation (a download, a wait), reported to whoever
// started it. The library never draws anything itself: the caller decides
// whether to show a bar, log a line, or ignore it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace vm_manager {

struct Progress {
  std::string what;                    // what is under way: a download's URL; a wait's step, "ssh", "cloud-init"
  std::uint64_t done = 0;              // bytes so far (downloads); 0 where nothing is counted
  std::optional<std::uint64_t> total;  // bytes in all, when known
  // The last report for `what`, sent also when it failed (the error then
  // follows): a download that got every byte ends with done == *total.
  bool finished = false;
  // Which try this is, from 1, of at most `attempts` (downloads retry
  // transient failures; both stay 1 for what is tried once).
  int attempt = 1;
  int attempts = 1;
  // A short line on what is going on besides the bytes, e.g. "retrying in
  // 2 s: HTTP 503", sent once before a wait; empty otherwise.
  std::string note{};
};

// Called on the thread doing the work, as often as it likes; it must be cheap
// and must not throw. An empty callback means nobody is listening.
using ProgressCallback = std::function<void(const Progress&)>;

}  // namespace vm_manager
