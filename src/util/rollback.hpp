// Undoing a half-done step when its scope is left by an exception.
//
//   Rollback undo([&] { data_dir.remove_inside(work_dir); });
//   …steps that may throw…
//   undo.commit();  // done: nothing to undo
//
// The undo runs in the destructor while the original error propagates, so a
// failing undo can neither replace that error nor hide it: what the undo
// throws is dropped (what it left behind, `vmctl destroy` clears later).
#pragma once

#include <functional>
#include <utility>

namespace vm_manager::util {

class Rollback {
 public:
  explicit Rollback(std::function<void()> undo) : undo_(std::move(undo)) {}
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;
  ~Rollback() {
    if (committed_ || !undo_) return;
    try {
      undo_();
    } catch (...) {  // the error already on its way is the one that matters
    }
  }

  // The step succeeded; nothing will be undone.
  void commit() noexcept { committed_ = true; }

 private:
  std::function<void()> undo_;
  bool committed_ = false;
};

}  // namespace vm_manager::util
