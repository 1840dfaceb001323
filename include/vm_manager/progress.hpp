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
};

// Called on the thread doing the work, as often as it likes; it must be cheap
// and must not throw. An empty callback means nobody is listening.
using ProgressCallback = std::function<void(const Progress&)>;

}  // namespace vm_manager
