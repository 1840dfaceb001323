// A file qemu-img reads as "raw" is whatever bytes it holds: a text file or
// an empty one would boot nothing and, worse, be written to as a disk. So a
// raw image must show something a disk holds before it is used.
#pragma once

#include <filesystem>
#include <optional>
#include <string_view>

#include "core/logger.hpp"

namespace vm_manager::qemu {

// How far into an image the recognised signatures lie (btrfs's superblock
// at 64 KiB is the farthest).
inline constexpr std::size_t kRawHeadBytes = 68 * 1024;

// What the first bytes of a raw image show, by the cheap signatures of a
// boot sector or MBR (0x55AA at 510), a GPT header, an LVM label, LUKS,
// ext2/3/4, XFS, btrfs, squashfs, FAT, NTFS or ISO 9660; nullopt when none
// is there. `head` may be shorter than kRawHeadBytes (a small file).
std::optional<std::string_view> recognise_raw_content(std::string_view head);

enum class UnrecognisedRaw { refuse, allow };

// Checks an image qemu-img reads as raw. One smaller than a sector (512
// bytes), or in whose head recognise_raw_content finds nothing, raises
// image::unrecognised_raw; with UnrecognisedRaw::allow it is used, and a
// warning goes to `log`. Raises spec::invalid when the file cannot be read.
void check_raw_image(const std::filesystem::path& image, UnrecognisedRaw policy, const Logger& log);

}  // namespace vm_manager::qemu
