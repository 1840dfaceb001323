#include "cloudinit/seed_iso.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string_view>

#include <fmt/format.h>

#include "cloudinit/libisofs.hpp"
#include "os/files.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::cloudinit {
namespace fs = std::filesystem;
namespace {

// NoCloud finds its seed by this label (blkid LABEL=cidata).
constexpr const char* kVolumeId = "cidata";
constexpr std::size_t kBlockSize = 2048;  // ISO 9660 logical block

constexpr std::string_view kLibisofsHelp =
    "this points at a broken libisofs installation or lack of memory; reinstall libisofs6 and retry";

// ---------------------------------------------------------------- errors --

[[noreturn]] void fail(const fs::path& path, std::string_view what, std::string_view why, std::string_view help) {
  throw Error(errc::seed_failed, fmt::format("cannot write cloud-init seed {}: {}: {}", path.string(), what, why),
              std::string(help));
}

// libisofs reports failure as a negative code; success values vary (1, node
// counts), so only the sign matters.
void check_iso(int rc, const fs::path& path, std::string_view what) {
  if (rc >= 0) return;
  fail(path, what, fmt::format("{} (libisofs error {:#x})", libisofs().iso_error_to_msg(rc), static_cast<unsigned>(rc)),
       kLibisofsHelp);
}

// ----------------------------------------------------------- lifetime --

// libisofs keeps process-wide state (its message queue) that iso_init sets
// up. It is initialised once and deliberately never torn down with
// iso_finish: another thread may be writing a seed at any moment, up to
// process exit. Flag bit0 keeps libisofs from calling setlocale(), which
// would change the whole process's locale behind the application's back;
// the names we store are plain ASCII, so the C locale's charset suffices.
int libisofs_init_result() {
  static std::once_flag once;
  static int result = 0;
  std::call_once(once, [] { result = libisofs().iso_init_with_flag(1); });
  return result;
}

struct ImageUnref {
  void operator()(IsoImage* image) const { libisofs().iso_image_unref(image); }
};
struct WriteOptsFree {
  void operator()(IsoWriteOpts* opts) const { libisofs().iso_write_opts_free(opts); }
};
struct StreamUnref {
  void operator()(IsoStream* stream) const { libisofs().iso_stream_unref(stream); }
};
struct MallocFree {
  void operator()(unsigned char* buffer) const { std::free(buffer); }
};
// Mirrors libburn's burn_source_free() for the single reference we hold.
// free_data() stops libisofs's writer thread and joins it if it still runs,
// so this is safe on an error path in the middle of reading.
struct BurnSourceFree {
  void operator()(burn_source* source) const {
    if (source->free_data != nullptr) source->free_data(source);
    std::free(source);
  }
};

using ImagePtr = std::unique_ptr<IsoImage, ImageUnref>;
using WriteOptsPtr = std::unique_ptr<IsoWriteOpts, WriteOptsFree>;
using StreamPtr = std::unique_ptr<IsoStream, StreamUnref>;
using BufferPtr = std::unique_ptr<unsigned char, MallocFree>;
using BurnSourcePtr = std::unique_ptr<burn_source, BurnSourceFree>;

// IsoDir and IsoFile begin with an IsoNode: libisofs's C API relies on this
// "base struct" idiom for its generic node setters.
template <typename T>
IsoNode* as_node(T* node) {
  return reinterpret_cast<IsoNode*>(node);
}

// Read-only and owned by root inside the guest, whoever ran vmctl. These
// match libisofs's current defaults, but the guest's view must not hinge on
// library defaults.
void make_root_owned(IsoNode* node, mode_t mode) {
  libisofs().iso_node_set_permissions(node, mode);
  libisofs().iso_node_set_uid(node, 0);
  libisofs().iso_node_set_gid(node, 0);
}

// ------------------------------------------------------------- building --

ImagePtr new_image(const fs::path& path) {
  check_iso(libisofs_init_result(), path, "cannot initialise libisofs");
  IsoImage* raw = nullptr;
  check_iso(libisofs().iso_image_new(kVolumeId, &raw), path, "cannot create the image");
  ImagePtr image(raw);
  make_root_owned(as_node(libisofs().iso_image_get_root(image.get())), 0555);
  return image;
}

// libisofs adds files from streams; a memory stream takes ownership of a
// malloc'd copy of the content (and frees it when the file node goes away).
StreamPtr memory_stream(std::string_view content, const fs::path& path, std::string_view name) {
  // malloc(0) may return null, which libisofs rejects: give empty files one
  // byte of buffer and a size of 0.
  BufferPtr buffer(static_cast<unsigned char*>(std::malloc(content.empty() ? 1 : content.size())));
  if (!buffer) fail(path, fmt::format("cannot hold {}", name), std::strerror(ENOMEM), "free some memory and retry");
  if (!content.empty()) std::memcpy(buffer.get(), content.data(), content.size());
  IsoStream* raw = nullptr;
  check_iso(libisofs().iso_memory_stream_new(buffer.get(), content.size(), &raw), path, fmt::format("cannot hold {}", name));
  buffer.release();  // now owned by the stream
  return StreamPtr(raw);
}

void add_file(IsoImage* image, const char* name, std::string_view content, const fs::path& path) {
  StreamPtr stream = memory_stream(content, path, name);
  IsoFile* file = nullptr;
  check_iso(libisofs().iso_image_add_new_file(image, libisofs().iso_image_get_root(image), name, stream.get(), &file), path,
            fmt::format("cannot add {}", name));
  stream.release();  // the file node took our reference
  make_root_owned(as_node(file), 0444);
}

WriteOptsPtr new_write_opts(const fs::path& path) {
  IsoWriteOpts* raw = nullptr;
  // Profile 1 ("backup"): ISO level 3 with Rock Ridge, and no defaults that
  // would override the modes and owners we set on the nodes.
  check_iso(libisofs().iso_write_opts_new(&raw, 1), path, "cannot create write options");
  WriteOptsPtr opts(raw);
  check_iso(libisofs().iso_write_opts_set_iso_level(opts.get(), 3), path, "cannot set ISO level 3");
  // Plain ISO 9660 names would read as USER_DATA — Rock Ridge (Linux)
  // and Joliet (other readers) carry the real names cloud-init looks up.
  check_iso(libisofs().iso_write_opts_set_rockridge(opts.get(), 1), path, "cannot enable Rock Ridge");
  check_iso(libisofs().iso_write_opts_set_joliet(opts.get(), 1), path, "cannot enable Joliet");
  // Keep the volume id lowercase "cidata" in the primary descriptor, as
  // cloud-localds/genisoimage do, instead of the d-character "CIDATA".
  check_iso(libisofs().iso_write_opts_set_relaxed_vol_atts(opts.get(), 1), path, "cannot keep the volume id as is");
  return opts;
}

// ------------------------------------------------------------- rendering --

// Reads one block from libisofs's burn source: version 0 sources have
// read(), later ones read_xt() (see struct burn_source in libisofs.h).
int read_block(burn_source* source, unsigned char* block) {
  auto read = source->read != nullptr ? source->read : source->read_xt;
  return read(source, block, static_cast<int>(kBlockSize));
}

// Runs libisofs's writer and collects the whole image in memory: seeds are
// at most a few MB, and an in-memory image lets os::write_file_atomic do the
// crash-safe replacement.
std::string render(IsoImage* image, IsoWriteOpts* opts, const fs::path& path) {
  burn_source* raw = nullptr;
  check_iso(libisofs().iso_image_create_burn_source(image, opts, &raw), path, "cannot start image generation");
  BurnSourcePtr source(raw);
  const auto expected = static_cast<std::size_t>(source->get_size(source.get()));
  std::string out;
  out.reserve(expected);
  unsigned char block[kBlockSize];
  for (;;) {
    int n = read_block(source.get(), block);
    if (n < 0) fail(path, "image generation failed", libisofs().iso_error_to_msg(ISO_BUF_READ_ERROR), kLibisofsHelp);
    if (n <= 0) break;
    out.append(reinterpret_cast<const char*>(block), static_cast<std::size_t>(n));
  }
  if (out.size() != expected) {
    fail(path, "image generation produced a wrong size", fmt::format("got {} of {} bytes", out.size(), expected),
         kLibisofsHelp);
  }
  return out;
}

std::string build_image(const SeedFiles& files, const fs::path& path) {
  ImagePtr image = new_image(path);
  add_file(image.get(), "user-data", files.user_data, path);
  add_file(image.get(), "meta-data", files.meta_data, path);
  if (files.network_config) add_file(image.get(), "network-config", *files.network_config, path);
  WriteOptsPtr opts = new_write_opts(path);
  return render(image.get(), opts.get(), path);
}

// ------------------------------------------------------------ meta-data --

// Decodes one UTF-8 sequence at s[i]; returns its length (0 when invalid:
// truncated, overlong, a surrogate or beyond U+10FFFF).
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& cp) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char lead = byte(i);
  std::size_t len = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || i + len > s.size()) return 0;
  cp = len == 1 ? lead : lead & (0x7F >> len);
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr char32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMinForLength[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return len;
}

// Code points a YAML reader would not take verbatim inside a double-quoted
// scalar: C0/C1 controls and DEL, line breaks beyond \n (NEL, U+2028/9,
// which PyYAML folds), the BOM and the non-characters U+FFFE/U+FFFF.
bool needs_escape(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF ||
         cp == 0xFFFE || cp == 0xFFFF;
}

void append_escape(std::string& out, char32_t cp) {
  if (cp <= 0xFF) {
    out += fmt::format("\\x{:02X}", static_cast<unsigned>(cp));
  } else {
    out += fmt::format("\\u{:04X}", static_cast<unsigned>(cp));
  }
}

// A YAML double-quoted scalar: the one YAML style that can carry any text
// (quotes, colons, '#', newlines, leading spaces) as a single string.
// Invalid UTF-8 cannot appear in a YAML stream at all, so each stray byte
// is kept as the code point of the same number (\xNN), i.e. read as Latin-1.
std::string yaml_quote(std::string_view value) {
  std::string out = "\"";
  for (std::size_t i = 0; i < value.size();) {
    char32_t cp = 0;
    std::size_t len = decode_utf8(value, i, cp);
    if (len == 0) {
      append_escape(out, static_cast<unsigned char>(value[i]));
      ++i;
      continue;
    }
    if (cp == '"' || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (needs_escape(cp)) {
      append_escape(out, cp);
    } else {
      out.append(value.substr(i, len));
    }
    i += len;
  }
  out += '"';
  return out;
}

}  // namespace

std::string make_meta_data(std::string_view instance_id, std::string_view hostname) {
  return fmt::format("instance-id: {}\nlocal-hostname: {}\n", yaml_quote(instance_id), yaml_quote(hostname));
}

void write_seed_iso(const fs::path& path, const SeedFiles& files) {
  std::string image = build_image(files, path);
  try {
    os::write_file_atomic(path, image, 0600);
  } catch (const Error& e) {
    // Same failure, reported under the seed's code; write_file_atomic has
    // already removed its temp file and left any previous seed in place.
    fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    throw Error(errc::seed_failed, fmt::format("cannot write cloud-init seed {}: {}", path.string(), e.message()),
                fmt::format("check that {} exists, is writable and has free space", dir.string()));
  }
}

}  // namespace vm_manager::cloudinit
