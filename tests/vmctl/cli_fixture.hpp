// Drives the real vmctl binary against a private data dir.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace vmctl::test {

class VmctlTest : public ::testing::Test {
 protected:
  ProcessResult vmctl(const std::vector<std::string>& args) { return run_vmctl(data_.str(), args); }

  // Runs a command that must succeed and returns its stdout.
  std::string ok(const std::vector<std::string>& args) {
    ProcessResult r = vmctl(args);
    EXPECT_EQ(r.exit_code, 0) << join(args) << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return r.out;
  }

  nlohmann::json status(const std::string& name) { return nlohmann::json::parse(ok({"status", name, "--json"})); }
  std::string state_of(const std::string& name) { return status(name).at("state").get<std::string>(); }
  nlohmann::json list() { return nlohmann::json::parse(ok({"list", "--json"})); }

  static std::string join(const std::vector<std::string>& args) {
    std::string out;
    for (const auto& a : args) out += a + " ";
    return out;
  }

  TempDir data_;
};

}  // namespace vmctl::test
