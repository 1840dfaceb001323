// The vm_manager::Error a call raises, for tests that check its code,
// message and help; a call that raises none is a test failure.
#pragma once

#include <gtest/gtest.h>

#include <string_view>
#include <utility>

#include "vm_manager/error.hpp"

namespace vmctl::test {

template <typename Call>
vm_manager::Error error_from(Call&& call) {
  try {
    std::forward<Call>(call)();
  } catch (const vm_manager::Error& e) {
    return e;
  }
  ADD_FAILURE() << "no vm_manager::Error was raised";
  return vm_manager::Error("none", "none");
}

// The same, also checking its code and that it carries a help line.
template <typename Call>
vm_manager::Error expect_error(std::string_view code, Call&& call) {
  vm_manager::Error error = error_from(std::forward<Call>(call));
  EXPECT_EQ(error.code(), code) << error.message();
  EXPECT_FALSE(error.help().empty());
  return error;
}

}  // namespace vmctl::test
