// C libraries loaded when a command first needs them (dlopen), not linked.
//
// Why: the dynamic loader maps and relocates every library a program links,
// with all of their own dependencies, at every start, whether the command
// uses them or not. libssh alone brings OpenSSL and Kerberos (~1.2 ms of a
// start that is meant to take ~1 ms). A component that loads its library
// here makes only the commands that use it pay, on first use. It keeps the
// library's own headers for types and constants, and calls its functions
// through a table of pointers that it resolves by name.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include "vm_manager/error.hpp"

namespace vm_manager::os {

// How a component says it cannot load its library: raises its own
// vm_manager::Error, whose hint names the package to install. `why` is the
// loader's words. Must not return.
using LibraryUnavailable = void (*)(const std::string& why);

// A shared library opened by soname (dlopen, RTLD_NOW | RTLD_LOCAL: its
// symbols stay out of the global namespace, where they could interpose on
// another copy a host program links). Never closed: the libraries keep
// process-wide state (OpenSSL, libcurl's TLS).
class SharedLibrary {
 public:
  // Calls `unavailable` when the library cannot be loaded.
  SharedLibrary(const char* soname, LibraryUnavailable unavailable);

  // Sets `function` to the library's function `name`; calls `unavailable`
  // when the library has none.
  template <typename Function>
  void resolve(const char* name, Function& function) const {
    function = reinterpret_cast<Function>(symbol(name));
  }

 private:
  void* symbol(const char* name) const;

  void* handle_ = nullptr;
  const char* soname_;
  LibraryUnavailable unavailable_;
};

// A library's function table, made by `load` on the first get(), once,
// whichever thread asks first; later calls return the same table. A load that
// failed is kept and raised again by every get(), so each caller says why.
template <typename Api>
class LazyLibrary {
 public:
  explicit LazyLibrary(Api (*load)()) : load_(load) {}
  LazyLibrary(const LazyLibrary&) = delete;
  LazyLibrary& operator=(const LazyLibrary&) = delete;

  const Api& get() {
    std::call_once(once_, [this] {
      try {
        api_ = load_();
      } catch (const Error& e) {
        failure_ = e;
      }
    });
    if (failure_) throw *failure_;
    return api_;
  }

 private:
  Api (*load_)();
  std::once_flag once_;
  Api api_{};
  std::optional<Error> failure_;
};

}  // namespace vm_manager::os
