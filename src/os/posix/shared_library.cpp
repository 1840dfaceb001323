#include "os/shared_library.hpp"

#include <dlfcn.h>

#include <stdexcept>

namespace vm_manager::os {
namespace {

[[noreturn]] void fail(LibraryUnavailable unavailable, const std::string& why) {
  unavailable(why);
  throw std::logic_error("a LibraryUnavailable returned: " + why);  // a bug in the caller
}

}  // namespace

SharedLibrary::SharedLibrary(const char* soname, LibraryUnavailable unavailable)
    : handle_(::dlopen(soname, RTLD_NOW | RTLD_LOCAL)), soname_(soname), unavailable_(unavailable) {
  if (handle_ == nullptr) {
    const char* why = ::dlerror();
    fail(unavailable_, why != nullptr ? why : soname);
  }
}

void* SharedLibrary::symbol(const char* name) const {
  void* found = ::dlsym(handle_, name);
  if (found == nullptr) fail(unavailable_, std::string(soname_) + " has no " + name);
  return found;
}

}  // namespace vm_manager::os
