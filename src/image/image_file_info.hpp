// What qemu-img says of any image file (`qemu-img info --output=json`):
// its format, virtual size, size on disk and backing file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace vm_manager::image {

struct ImageFileDetails {
  std::filesystem::path path;  // absolute
  std::string format;          // "qcow2", "raw", …
  std::uint64_t virtual_size = 0;
  std::uint64_t actual_size = 0;  // bytes the file takes on disk
  std::string backing_file;       // as recorded in the image; empty: none
  std::string backing_format;     // empty: none recorded
};

// Runs qemu-img info with --force-share, so the disk of a running VM can be
// read too. Raises image::not_found
// (no such file), image::bad_image (qemu-img cannot read it),
// process::spawn_failed (no qemu-img).
ImageFileDetails image_file_details(const std::string& qemu_img, const std::filesystem::path& path);

}  // namespace vm_manager::image
