// The image cache: base images pulled from local paths, http(s) URLs or OCI
// registries (oci://REGISTRY/REPOSITORY:TAG or …@sha256:DIGEST), stored once
// per source under $VMCTL_IMAGE_CACHE, else $XDG_CACHE_HOME/vmctl/images,
// else ~/.cache/vmctl/images, decompressed and with their format detected.
//
// Layout: <root>/<key>/image       the final, decompressed image
//         <root>/<key>/meta.json   source, sha256, format, size, fetched_at
//                                  (and manifest_digest, blob_digest for OCI)
//         <root>/<key>/download.partial  an unfinished download (resumed)
//         <root>/<key>/download.partial.validator  its ETag or Last-Modified
//         <root>/<key>.lock        held while pulling or removing the entry
// where <key> is the SHA-256 of the source string (never a VM name), or for
// a compressed local file the SHA-256 of "local\n<absolute path>\n<size>\n
// <mtime ns>", so that an edited file is imported again.
//
// A local file is used in place, unless it is compressed (zstd, xz or gzip,
// recognised by its magic bytes): then it is decompressed once into the cache,
// like a download, and the entry's source is its absolute path.
//
// An OCI source is resolved once, like a URL is downloaded once: pulling a
// tag again while its entry exists returns the cached image without asking
// the registry, even if the tag has moved since. That keeps pulls offline and
// repeatable; `vmctl image rm` then pull again to follow a moved tag, or pull
// by digest to pin one.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/logger.hpp"
#include "image/download.hpp"
#include "vm_manager/environment.hpp"
#include "vm_manager/log.hpp"
#include "vm_manager/progress.hpp"

namespace vm_manager::image {

struct CachedImage {
  std::string key;
  std::string source;
  std::filesystem::path path;     // <root>/<key>/image
  std::string sha256;             // of the final (decompressed) file
  std::string download_sha256;    // of the bytes as downloaded
  std::string compression;        // "none", "zstd", "xz", "gzip"
  std::string format;             // from qemu-img info: "qcow2", "raw", …
  std::uint64_t size = 0;         // of the final file, bytes
  std::string fetched_at;         // UTC, ISO 8601
  std::string manifest_digest;    // OCI only: of the manifest (or index) the reference named
  std::string blob_digest;        // OCI only: of the layer downloaded, "sha256:<hex>"
};

struct ImageCacheOptions {
  std::optional<std::filesystem::path> root;  // default_root(environment) when unset
  // VMCTL_IMAGE_CACHE, XDG_CACHE_HOME and HOME for the default root, the
  // registry settings (RegistryOptions::from_environment) and VMCTL_CA_FILE,
  // which overrides download.ca_file (image/ca_file.hpp).
  Environment environment;
  std::string qemu_img = "qemu-img";
  std::chrono::milliseconds lock_timeout = std::chrono::hours(1);
  // Limits and headers of downloads; their progress and log are the two below.
  DownloadOptions download;
  // Hears each download's bytes (DownloadOptions::progress says how).
  ProgressCallback progress;
  // Hears, at info level, what a pull does that takes a while: downloading
  // (and downloaded), decompressing, waiting for another pull of the source.
  LogSink log;
};

class ImageCache {
 public:
  explicit ImageCache(ImageCacheOptions options = {});

  // VMCTL_IMAGE_CACHE (absolute), else XDG_CACHE_HOME/vmctl/images, else
  // HOME/.cache/vmctl/images.
  static std::filesystem::path default_root(const Environment& env);
  // The cache key of a source: lower-case hex SHA-256 of the string.
  static std::string key_for(std::string_view source);

  const std::filesystem::path& root() const { return root_; }

  // The path of the image for `source`. An uncompressed local path is checked
  // and returned as-is (absolute), never copied; a compressed local file is
  // decompressed once into the cache; an http(s) URL or an oci:// reference is
  // downloaded once into the cache (concurrent pulls, threads or processes,
  // wait for the first). expected_sha256 (64 hex digits, any case) is checked
  // on the downloaded (or local) bytes, before decompression; an OCI layer is
  // also always checked against its digest. Raises Error(image::…).
  std::filesystem::path pull(const std::string& source, const std::optional<std::string>& expected_sha256 = {});

  // Where pull(source) puts (or finds) the image, without pulling it: the
  // absolute path for an uncompressed local source, the cache entry's image
  // otherwise (for a compressed local file, the entry of its current version).
  // Lets callers compare a VM's image with a source cheaply.
  std::filesystem::path path_for(const std::string& source) const;

  // Gives `source` (a URL, an OCI reference, a path made absolute, or
  // another name's source) the name `name` (image/image_names.hpp), which
  // pull, path_for and inspect then take for it, unless a file of that name
  // exists in the current folder. Raises image::bad_source, store::io.
  void set_name(const std::string& name, const std::string& source) const;

  // Every complete entry, sorted by source.
  std::vector<CachedImage> list() const;
  // The entry of a source, a key, or a unique prefix (at least 4 hex digits)
  // of a key; raises image::not_found, or image::ambiguous when a prefix
  // matches several entries.
  CachedImage inspect(const std::string& source_or_key) const;
  // Deletes the entry named as for inspect (complete or not); raises
  // image::not_found, image::ambiguous, image::locked.
  void remove(const std::string& source_or_key);

  // How many hex digits of a key `image list` shows.
  static constexpr std::size_t kShortKey = 12;
  static constexpr std::size_t kMinKeyPrefix = 4;

 private:
  std::optional<CachedImage> read_entry(const std::string& key) const;
  // The source a name stands for, when `source` is a recorded name.
  std::optional<std::string> named_source(const std::string& source) const;
  std::string resolve_key(const std::string& source_or_key) const;
  // The key of a compressed local file's entry; nullopt when the file is
  // missing or not compressed.
  std::optional<std::string> local_key(const std::filesystem::path& file) const;
  std::filesystem::path import_local(const std::filesystem::path& file, const std::string& key,
                                     const std::string& file_sha256);
  std::filesystem::path fetch(const std::string& source, const std::string& key,
                              const std::optional<std::string>& expected);
  void download_source(const std::string& source, const std::filesystem::path& partial, CachedImage& entry) const;
  // An entry's folder made ready for a new pull, and the entry to fill in.
  CachedImage start_entry(const std::string& key, const std::string& source) const;
  // Fills in path, size and time of the image in place, then writes the
  // metadata that makes the entry count as cached. Returns the image's path.
  std::filesystem::path finish_entry(CachedImage& entry) const;

  ImageCacheOptions options_;
  std::filesystem::path root_;
  Logger log_;
};

}  // namespace vm_manager::image
