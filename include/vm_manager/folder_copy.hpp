// What copying a folder tree into or out of a guest did
// (VmManager::upload_folder and download_folder).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vm_manager {

struct FolderCopy {
  // Where the tree went: the folder made or filled (a path in the guest for
  // an upload, a local one for a download).
  std::string destination;
  std::uint64_t files = 0;
  std::uint64_t folders = 0;  // the top folder included
  std::uint64_t symlinks = 0;
  // Entries that are neither file, folder nor symlink (FIFOs, sockets,
  // devices: SFTP cannot make them), relative to the source folder.
  std::vector<std::string> skipped;
};

}  // namespace vm_manager
