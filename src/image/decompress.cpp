#include "image/decompress.hpp"
#include "os/unique_fd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "image/libraries.hpp"
#include "os/files.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace fs = std::filesystem;
namespace {

constexpr size_t kChunk = 1 << 20;

[[noreturn]] void io_error(std::string_view what, const fs::path& path, int err) {
  throw vm_manager::Error(vm_manager::errc::store_io,
                          fmt::format("cannot {} {}: {}", what, path.string(), std::strerror(err)),
                          "check the permissions and free space of the image cache");
}

[[noreturn]] void corrupt(const fs::path& in, std::string_view format, std::string_view detail) {
  throw vm_manager::Error(errc::image_decompress_failed,
                          fmt::format("cannot decompress {} ({}): {}", in.string(), format, detail),
                          "the download is corrupt or truncated; remove it from the cache and pull again");
}

// Reads the next chunk; 0 at the end.
size_t read_some(int fd, std::vector<unsigned char>& buffer, const fs::path& path) {
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) io_error("read", path, errno);
  }
}

void write_all(int fd, const unsigned char* data, size_t size, const fs::path& path) {
  int err = os::write_fully(fd, std::string_view(reinterpret_cast<const char*>(data), size));
  if (err != 0) io_error("write", path, err);
}

void decompress_zstd(int in_fd, int out_fd, const fs::path& in, const fs::path& out) {
  const LibZstd& zstd = libzstd();
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(zstd.ZSTD_createDCtx(), zstd.ZSTD_freeDCtx);
  if (!ctx) corrupt(in, "zstd", "out of memory");
  std::vector<unsigned char> in_buf(zstd.ZSTD_DStreamInSize());
  std::vector<unsigned char> out_buf(zstd.ZSTD_DStreamOutSize());
  size_t last = 1;  // non-zero: a frame is not finished
  bool any = false;
  for (;;) {
    size_t n = read_some(in_fd, in_buf, in);
    if (n == 0) break;
    any = true;
    ZSTD_inBuffer input{in_buf.data(), n, 0};
    while (input.pos < input.size) {
      ZSTD_outBuffer output{out_buf.data(), out_buf.size(), 0};
      last = zstd.ZSTD_decompressStream(ctx.get(), &output, &input);
      if (zstd.ZSTD_isError(last)) corrupt(in, "zstd", zstd.ZSTD_getErrorName(last));
      write_all(out_fd, out_buf.data(), output.pos, out);
    }
  }
  // Flush what the decoder still holds.
  for (;;) {
    ZSTD_inBuffer input{nullptr, 0, 0};
    ZSTD_outBuffer output{out_buf.data(), out_buf.size(), 0};
    if (last == 0) break;
    last = zstd.ZSTD_decompressStream(ctx.get(), &output, &input);
    if (zstd.ZSTD_isError(last)) corrupt(in, "zstd", zstd.ZSTD_getErrorName(last));
    write_all(out_fd, out_buf.data(), output.pos, out);
    if (output.pos == 0) break;
  }
  if (!any || last != 0) corrupt(in, "zstd", "truncated input");
}

void decompress_xz(int in_fd, int out_fd, const fs::path& in, const fs::path& out) {
  const LibLzma& lzma = liblzma();
  lzma_stream strm = LZMA_STREAM_INIT;
  // Memory bounded by the decoder's limit; concatenated streams allowed.
  lzma_ret ret = lzma.lzma_stream_decoder(&strm, 1ull << 30, LZMA_CONCATENATED);
  if (ret != LZMA_OK) corrupt(in, "xz", "cannot initialise the decoder");
  std::unique_ptr<lzma_stream, void (*)(lzma_stream*)> guard(&strm, lzma.lzma_end);
  std::vector<unsigned char> in_buf(kChunk);
  std::vector<unsigned char> out_buf(kChunk);
  lzma_action action = LZMA_RUN;
  for (;;) {
    if (strm.avail_in == 0 && action == LZMA_RUN) {
      size_t n = read_some(in_fd, in_buf, in);
      strm.next_in = in_buf.data();
      strm.avail_in = n;
      if (n == 0) action = LZMA_FINISH;
    }
    strm.next_out = out_buf.data();
    strm.avail_out = out_buf.size();
    ret = lzma.lzma_code(&strm, action);
    write_all(out_fd, out_buf.data(), out_buf.size() - strm.avail_out, out);
    if (ret == LZMA_STREAM_END) return;
    if (ret != LZMA_OK) {
      corrupt(in, "xz", ret == LZMA_BUF_ERROR ? "truncated input" : fmt::format("liblzma error {}", int(ret)));
    }
  }
}

void decompress_gzip(int in_fd, int out_fd, const fs::path& in, const fs::path& out) {
  const LibZ& z = libz();
  z_stream strm{};
  // inflateInit2(), a macro over inflateInit2_().
  if (z.inflateInit2_(&strm, 16 + MAX_WBITS, ZLIB_VERSION, static_cast<int>(sizeof(z_stream))) != Z_OK) {
    corrupt(in, "gzip", "cannot initialise zlib");
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&strm, z.inflateEnd);
  std::vector<unsigned char> in_buf(kChunk);
  std::vector<unsigned char> out_buf(kChunk);
  int ret = Z_OK;
  for (;;) {
    size_t n = read_some(in_fd, in_buf, in);
    if (n == 0) break;
    strm.next_in = in_buf.data();
    strm.avail_in = static_cast<uInt>(n);
    while (strm.avail_in > 0) {
      strm.next_out = out_buf.data();
      strm.avail_out = static_cast<uInt>(out_buf.size());
      ret = z.inflate(&strm, Z_NO_FLUSH);
      if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR) {
        corrupt(in, "gzip", strm.msg ? strm.msg : "corrupt data");
      }
      write_all(out_fd, out_buf.data(), out_buf.size() - strm.avail_out, out);
      if (ret == Z_STREAM_END) {
        // Another member may follow (cat a.gz b.gz), as gzip -d accepts.
        if (strm.avail_in == 0) break;
        if (z.inflateReset(&strm) != Z_OK) corrupt(in, "gzip", "cannot reset zlib");
        ret = Z_OK;
      } else if (ret == Z_BUF_ERROR && strm.avail_out != 0) {
        break;  // needs more input
      }
    }
  }
  if (ret != Z_STREAM_END) corrupt(in, "gzip", "truncated input");
}

}  // namespace

Compression detect_compression(const fs::path& path) {
  os::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) io_error("open", path, errno);
  unsigned char magic[6] = {};
  ssize_t n = 0;
  do {
    n = ::pread(fd.get(), magic, sizeof magic, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) io_error("read", path, errno);
  static constexpr unsigned char kZstd[] = {0x28, 0xB5, 0x2F, 0xFD};
  static constexpr unsigned char kXz[] = {0xFD, '7', 'z', 'X', 'Z', 0x00};
  static constexpr unsigned char kGzip[] = {0x1F, 0x8B};
  if (n >= 4 && std::memcmp(magic, kZstd, sizeof kZstd) == 0) return Compression::zstd;
  if (n >= 6 && std::memcmp(magic, kXz, sizeof kXz) == 0) return Compression::xz;
  if (n >= 2 && std::memcmp(magic, kGzip, sizeof kGzip) == 0) return Compression::gzip;
  return Compression::none;
}

std::string_view compression_name(Compression compression) {
  switch (compression) {
    case Compression::zstd: return "zstd";
    case Compression::xz: return "xz";
    case Compression::gzip: return "gzip";
    case Compression::none: break;
  }
  return "none";
}

void decompress_file(Compression compression, const fs::path& in, const fs::path& out) {
  os::UniqueFd in_fd(::open(in.c_str(), O_RDONLY | O_CLOEXEC));
  if (in_fd.get() < 0) io_error("open", in, errno);
  os::UniqueFd out_fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (out_fd.get() < 0) io_error("create", out, errno);
  switch (compression) {
    case Compression::zstd: decompress_zstd(in_fd.get(), out_fd.get(), in, out); break;
    case Compression::xz: decompress_xz(in_fd.get(), out_fd.get(), in, out); break;
    case Compression::gzip: decompress_gzip(in_fd.get(), out_fd.get(), in, out); break;
    case Compression::none: corrupt(in, "none", "not compressed");
  }
  if (::fsync(out_fd.get()) != 0) io_error("fsync", out, errno);
}

}  // namespace vm_manager::image
