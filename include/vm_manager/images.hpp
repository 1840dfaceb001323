// The image cache a VmManager owns: base images pulled once from local paths,
// http(s) URLs or OCI registries (oci://REGISTRY/REPOSITORY:TAG or
// …@sha256:DIGEST), decompressed, their format detected, and kept per source
// until removed. VmManager::create pulls through it; programs may also pull,
// list, inspect and remove entries ahead of time.
//
// Thread safety: an Images may be used from several threads, and several
// processes may share the cache: pulls of one source wait for the first
// (a lock per entry). Every failure is a vm_manager::Error (image::…).
#pragma once

#include "vm_manager/export.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "vm_manager/environment.hpp"
#include "vm_manager/log.hpp"
#include "vm_manager/progress.hpp"

namespace vm_manager {

class VmStore;

// One cached image.
struct ImageInfo {
  std::string key;              // the cache key: SHA-256 of the source
  std::string source;           // what it was pulled from
  std::filesystem::path path;   // the image file VMs are based on
  std::string sha256;           // of the image file (decompressed)
  std::string download_sha256;  // of the bytes as fetched
  std::string compression;      // "none", "zstd", "xz", "gzip"
  std::string format;           // "qcow2", "raw", …
  std::uint64_t size = 0;       // of the image file, bytes
  std::string fetched_at;       // UTC, ISO 8601
  std::string manifest_digest;  // OCI only, else empty
  std::string blob_digest;      // OCI only, else empty
};

// Any image file, as qemu-img describes it (Images::inspect_file).
struct ImageFileInfo {
  std::filesystem::path path;     // absolute
  std::string format;             // "qcow2", "raw", …
  std::uint64_t virtual_size = 0; // bytes the guest sees
  std::uint64_t actual_size = 0;  // bytes the file takes on disk
  std::string backing_file;       // as recorded in the image; empty: none
  std::string backing_format;     // empty: none recorded
};

// Where the cache lives and what it may use to fetch.
struct ImageCacheConfig {
  // Unset: VMCTL_IMAGE_CACHE, else XDG_CACHE_HOME/vmctl/images, else
  // HOME/.cache/vmctl/images, looked up in `environment` (never in the
  // process's own environment).
  std::optional<std::filesystem::path> root;
  // For the default root, the registries' credentials and
  // VMCTL_REGISTRY_INSECURE, and VMCTL_CA_FILE: a PEM file of the CAs https
  // servers are checked against instead of the system's store.
  Environment environment;
  // The cache's log: info lines say what a pull does ("Downloading …",
  // "Decompressing …", "Waiting for another pull of …"); warnings and errors
  // are diagnostics. Empty: nowhere.
  LogSink log = {};
};

class VM_MANAGER_API Images {
 public:
  Images(ImageCacheConfig config, const VmStore& vms);

  // How many hex digits of a key a short listing shows, and the fewest a
  // key prefix given to inspect() or remove() may have.
  static constexpr std::size_t kShortKey = 12;
  static constexpr std::size_t kMinKeyPrefix = 4;

  // The cache's folder.
  std::filesystem::path root() const;

  // The image file for `source`: an uncompressed local file as it is
  // (absolute), anything else fetched or decompressed into the cache once.
  // `sha256` (64 hex digits) is checked on the fetched (or local) bytes; an
  // OCI layer is always checked against its digest. `progress` hears of
  // downloads. Raises image::… errors.
  std::filesystem::path pull(const std::string& source, const std::optional<std::string>& sha256 = std::nullopt,
                             const ProgressCallback& progress = {});
  // Where pull(source) puts or finds the image, without fetching anything:
  // lets a caller compare a VM's image with a source cheaply.
  std::filesystem::path path_for(const std::string& source) const;

  // Names `source` (pulled or not): from then on pull(), path_for() and
  // inspect() take `name` for it, and so do VmSpec image sources and
  // VMFiles' image-url, unless a file of that name exists in the current
  // folder (a path wins). A name is 1-63 of [A-Za-z0-9_.-], starting
  // alphanumeric; naming a name names its source; a relative path is made
  // absolute. Naming again replaces. Raises image::bad_source, store::io.
  void name(const std::string& name, const std::string& source);

  // Every complete entry, sorted by source.
  std::vector<ImageInfo> list() const;
  // The entry of a source, a key, or a unique key prefix. Raises
  // image::not_found, image::ambiguous.
  ImageInfo inspect(const std::string& source_or_key) const;
  // Any image file, cached or not, from `qemu-img info` (forcing a shared
  // read, so a running VM's disk can be inspected). Raises image::not_found,
  // image::bad_image, process::spawn_failed (no qemu-img).
  ImageFileInfo inspect_file(const std::filesystem::path& path) const;
  // The VMs (sorted names) whose disk is based on the cached image.
  std::vector<std::string> users(const ImageInfo& image) const;
  // Deletes an entry named as for inspect(), complete or not. Unless
  // `even_if_used`, refuses (image::in_use) when VMs are based on it.
  // Raises image::not_found, image::ambiguous, image::locked.
  void remove(const std::string& source_or_key, bool even_if_used = false);

 private:
  ImageCacheConfig config_;
  const VmStore& vms_;
};

}  // namespace vm_manager
