// The VM's disk: a qcow2 overlay on its base image, made with qemu-img.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "backends/qemu/config.hpp"
#include "backends/qemu/host.hpp"
#include "backends/qemu/raw_image.hpp"

namespace vm_manager::qemu {

struct ImageInfo {
  std::string format;            // "qcow2", "raw", …
  std::uint64_t virtual_size = 0;  // bytes
};

// `qemu-img info --output=json`. Raises spec::invalid when it is not an image.
ImageInfo inspect_image(const std::filesystem::path& image, const QemuConfig& config, Host& host);

// Creates `overlay` backed by `base` (by absolute path, with its detected
// format) and grows it to disk_gb when given. Refuses a size smaller than
// the base and an existing overlay (never overwritten silently). A base
// qemu-img reads as raw goes through check_raw_image first (raw_image.hpp),
// its warning to config.log.
void create_overlay(const std::filesystem::path& base, const std::filesystem::path& overlay,
                    std::optional<std::uint64_t> disk_gb, const QemuConfig& config, Host& host,
                    UnrecognisedRaw unrecognised_raw = UnrecognisedRaw::refuse);

}  // namespace vm_manager::qemu
