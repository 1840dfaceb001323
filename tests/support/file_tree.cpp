#include "support/file_tree.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

namespace vmctl::test {
namespace fs = std::filesystem;
namespace {

void write_file(const fs::path& path, const std::string& content, fs::perms mode) {
  std::ofstream(path, std::ios::binary) << content;
  fs::permissions(path, mode);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

}  // namespace

void make_sample_tree(const fs::path& root) {
  fs::create_directories(root / "a" / "b" / "c");
  fs::create_directories(root / "empty");
  fs::create_directories(root / "private");
  write_file(root / "a" / "b" / "c" / "deep.txt", "deep down\n", fs::perms(0644));
  write_file(root / "a" / "top.sh", "#!/bin/sh\necho hi\n", fs::perms(0755));
  write_file(root / "secret.txt", "only mine\n", fs::perms(0700));
  write_file(root / "private" / "key", "k\n", fs::perms(0600));
  fs::permissions(root / "private", fs::perms(0700));
  fs::permissions(root / "a" / "b", fs::perms(0750));
  fs::create_symlink("a/b/c/deep.txt", root / "link-in");
  fs::create_symlink("/etc/hostname", root / "link-out");
  fs::create_symlink("../../outside", root / "a" / "link-up");
  fs::create_symlink("nowhere", root / "dangling");
  fs::create_directory_symlink("b", root / "a" / "link-to-folder");
}

std::string describe_tree(const fs::path& root) {
  std::set<std::string> lines;
  struct stat top {};
  if (::stat(root.c_str(), &top) != 0) throw std::runtime_error("stat " + root.string());
  lines.insert(fmt::format(". folder {:o}", top.st_mode & 07777));
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path& path = it->path();
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) throw std::runtime_error("lstat " + path.string());
    const std::string relative = path.lexically_relative(root).string();
    const unsigned mode = st.st_mode & 07777;
    if (S_ISLNK(st.st_mode)) {
      lines.insert(fmt::format("{} symlink -> {}", relative, fs::read_symlink(path).string()));
    } else if (S_ISDIR(st.st_mode)) {
      lines.insert(fmt::format("{} folder {:o}", relative, mode));
    } else if (S_ISREG(st.st_mode)) {
      lines.insert(fmt::format("{} file {:o} {:?}", relative, mode, read_file(path)));
    } else {
      lines.insert(fmt::format("{} other {:o}", relative, mode));
    }
  }
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

}  // namespace vmctl::test
