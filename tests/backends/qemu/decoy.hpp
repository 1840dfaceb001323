// A file outside the data dir that an attack points vmctl at (through a
// symlink); a test proves it untouched: same inode, content and mode.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

namespace vmctl::test {

class Decoy {
 public:
  explicit Decoy(std::filesystem::path path, std::string content = "decoy: must not change\n")
      : path_(std::move(path)), content_(std::move(content)) {
    std::ofstream(path_) << content_;
    ::chmod(path_.c_str(), 0640);
    before_ = stat_of();
  }

  const std::filesystem::path& path() const { return path_; }

  ::testing::AssertionResult untouched() const {
    struct stat now = stat_of();
    std::ifstream in(path_);
    std::string content((std::istreambuf_iterator<char>(in)), {});
    if (now.st_ino != before_.st_ino || now.st_dev != before_.st_dev) {
      return ::testing::AssertionFailure() << path_ << " was replaced";
    }
    if (now.st_mode != before_.st_mode) return ::testing::AssertionFailure() << path_ << " changed mode";
    if (content != content_) return ::testing::AssertionFailure() << path_ << " now holds: " << content;
    return ::testing::AssertionSuccess();
  }

 private:
  struct stat stat_of() const {
    struct stat st {};
    ::stat(path_.c_str(), &st);
    return st;
  }

  std::filesystem::path path_;
  std::string content_;
  struct stat before_ {};
};

}  // namespace vmctl::test
