// Decompression of downloaded images, recognised by magic bytes (never by
// the file name), streamed to a file with bounded memory.
#pragma once

#include <filesystem>
#include <string_view>

namespace vm_manager::image {

enum class Compression { none, zstd, xz, gzip };

// From the first bytes of the file. Raises store::io when it cannot be read.
Compression detect_compression(const std::filesystem::path& path);

std::string_view compression_name(Compression compression);

// Writes the decompressed content of `in` to `out` (created or truncated,
// fsynced). Raises Error(image::decompress_failed) on corrupt input.
void decompress_file(Compression compression, const std::filesystem::path& in, const std::filesystem::path& out);

}  // namespace vm_manager::image
