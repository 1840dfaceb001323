// Owning pointers for libssh's C objects, shared by the key and session code.
#pragma once

#include <memory>
#include <type_traits>

#include "ssh/libssh.hpp"

namespace vm_manager::ssh {

struct KeyFree {
  void operator()(ssh_key key) const { libssh().ssh_key_free(key); }
};
using KeyPtr = std::unique_ptr<std::remove_pointer_t<ssh_key>, KeyFree>;

struct CharFree {
  void operator()(char* text) const { libssh().ssh_string_free_char(text); }
};
using CharPtr = std::unique_ptr<char, CharFree>;

}  // namespace vm_manager::ssh
