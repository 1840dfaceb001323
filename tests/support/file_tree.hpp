// A folder tree with what `vmctl cp -r` must keep (nested folders, an empty
// folder, a 0700 file and folder, symlinks inside, out of and above the
// tree, a dangling one, one to a folder), and a listing to compare copies by.
#pragma once

#include <filesystem>
#include <string>

namespace vmctl::test {

// Makes `root` (missing parents too) and the tree in it.
void make_sample_tree(const std::filesystem::path& root);

// One line per entry below `root`, sorted, never following a symlink:
// "path type mode" and a file's content or a symlink's target.
std::string describe_tree(const std::filesystem::path& root);

}  // namespace vmctl::test
