#include "backends/qemu/raw_image.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "os/unique_fd.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::qemu {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kSectorBytes = 512;

struct Signature {
  std::size_t offset;
  std::string_view bytes;
  std::string_view what;
};

using namespace std::string_view_literals;

// Offsets and magic bytes as each format's on-disk layout defines them.
constexpr std::array kSignatures{
    Signature{510, "\x55\xaa"sv, "a boot sector or MBR partition table"},
    Signature{512, "EFI PART"sv, "a GPT partition table"},
    Signature{4096, "EFI PART"sv, "a GPT partition table (4 KiB sectors)"},
    Signature{512, "LABELONE"sv, "an LVM physical volume"},
    Signature{0, "LUKS\xba\xbe"sv, "a LUKS volume"},
    Signature{1080, "\x53\xef"sv, "an ext2/3/4 filesystem"},
    Signature{0, "XFSB"sv, "an XFS filesystem"},
    Signature{65600, "_BHRfS_M"sv, "a btrfs filesystem"},
    Signature{0, "hsqs"sv, "a squashfs filesystem"},
    Signature{3, "NTFS    "sv, "an NTFS filesystem"},
    Signature{54, "FAT12   "sv, "a FAT12 filesystem"},
    Signature{54, "FAT16   "sv, "a FAT16 filesystem"},
    Signature{82, "FAT32   "sv, "a FAT32 filesystem"},
    Signature{32769, "CD001"sv, "an ISO 9660 filesystem"},
};

[[noreturn]] void unreadable(const fs::path& image, int err) {
  throw Error(errc::spec_invalid, fmt::format("cannot read image {}: {}", image.string(), std::strerror(err)),
              "check the image's permissions");
}

// The first kRawHeadBytes of the image (fewer when it is smaller), and its size.
std::pair<std::string, std::uintmax_t> read_head(const fs::path& image) {
  os::UniqueFd fd(::open(image.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (fd.get() < 0) unreadable(image, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) unreadable(image, errno);
  if (!S_ISREG(st.st_mode)) {
    throw Error(errc::spec_invalid, fmt::format("image {} is not a regular file", image.string()),
                "give the path of a disk image");
  }
  std::string head(kRawHeadBytes, '\0');
  std::size_t used = 0;
  while (used < head.size()) {
    ssize_t n = ::pread(fd.get(), head.data() + used, head.size() - used, static_cast<off_t>(used));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) unreadable(image, errno);
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  head.resize(used);
  return {std::move(head), static_cast<std::uintmax_t>(st.st_size)};
}

}  // namespace

std::optional<std::string_view> recognise_raw_content(std::string_view head) {
  for (const Signature& s : kSignatures) {
    if (head.size() >= s.offset + s.bytes.size() && head.substr(s.offset, s.bytes.size()) == s.bytes) return s.what;
  }
  return std::nullopt;
}

void check_raw_image(const fs::path& image, UnrecognisedRaw policy, const Logger& log) {
  auto [head, size] = read_head(image);
  std::string problem;
  if (size < kSectorBytes) {
    problem = fmt::format("is {} bytes, smaller than one sector ({} bytes)", size, kSectorBytes);
  } else if (!recognise_raw_content(head)) {
    problem = "holds no partition table, filesystem or boot sector";
  } else {
    return;
  }
  if (policy == UnrecognisedRaw::allow) {
    log.warn("raw image {} {}; using it as asked", image.string(), problem);
    return;
  }
  throw Error(errc::image_unrecognised_raw, fmt::format("raw image {} {}", image.string(), problem),
              "check that this is the disk image meant; to use it as it is, allow unrecognised raw images "
              "when creating the VM");
}

}  // namespace vm_manager::qemu
