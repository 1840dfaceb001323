#include "image/image_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "image/ca_file.hpp"
#include "image/decompress.hpp"
#include "image/image_names.hpp"
#include "image/oci_reference.hpp"
#include "image/oci_registry.hpp"
#include "image/sha256.hpp"
#include "os/file_lock.hpp"
#include "os/files.hpp"
#include "os/process.hpp"
#include "util/strings.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace fs = std::filesystem;
using Error = vm_manager::Error;
namespace {
using util::lower;

constexpr std::string_view kImage = "image";
constexpr std::string_view kMeta = "meta.json";
constexpr std::string_view kPartial = "download.partial";
constexpr std::string_view kDecompressing = "image.decompressing";

[[noreturn]] void io_error(std::string_view what, const fs::path& path, std::string_view detail) {
  throw Error(vm_manager::errc::store_io, fmt::format("cannot {} {}: {}", what, path.string(), detail),
              "check the permissions and free space of the image cache");
}

bool is_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

bool is_url(std::string_view source) {
  return source.starts_with("http://") || source.starts_with("https://");
}

std::string now_utc() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

void remove_quietly(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

void create_dirs(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) io_error("create", path, ec.message());
}

void fsync_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) io_error("open", path, std::strerror(errno));
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) io_error("fsync", path, std::strerror(err));
}

void rename_into_place(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) io_error("rename", from, std::strerror(errno));
  int dir = ::open(to.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

class Lock {
 public:
  Lock(const fs::path& path, std::chrono::milliseconds timeout, const std::string& what, const Logger& log) {
    auto fd = os::lock_exclusive(path, timeout, [&](long pid) {
      if (pid > 0) {
        log.info("Waiting for another pull of {} (pid {})", what, pid);
      } else {
        log.info("Waiting for another pull of {}", what);
      }
    });
    if (!fd) {
      throw Error(errc::image_locked, fmt::format("timed out waiting for the lock on {} ({})", what, path.string()),
                  "another process is pulling or removing this image; try again later");
    }
    fd_ = *fd;
  }
  ~Lock() { ::close(fd_); }
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

 private:
  int fd_ = -1;
};

std::string detect_format(const std::string& qemu_img, const fs::path& image) {
  os::ProcessOutput out = os::run_process({qemu_img, "info", "--output=json", image.string()}, std::chrono::seconds(60));
  if (!out.ok()) {
    std::string first = out.err.substr(0, out.err.find('\n'));
    throw Error(errc::image_bad_image, fmt::format("qemu-img cannot read {}: {}", image.string(), first),
                "the source is not a disk image qemu understands");
  }
  try {
    auto json = nlohmann::json::parse(out.out);
    return json.at("format").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(errc::image_bad_image, fmt::format("unexpected qemu-img info output for {}: {}", image.string(), e.what()));
  }
}

nlohmann::json to_json(const CachedImage& image) {
  nlohmann::json json{{"source", image.source},
                      {"sha256", image.sha256},
                      {"download_sha256", image.download_sha256},
                      {"compression", image.compression},
                      {"format", image.format},
                      {"size", image.size},
                      {"fetched_at", image.fetched_at}};
  if (!image.manifest_digest.empty()) json["manifest_digest"] = image.manifest_digest;
  if (!image.blob_digest.empty()) json["blob_digest"] = image.blob_digest;
  return json;
}

}  // namespace

ImageCache::ImageCache(ImageCacheOptions options)
    : options_(std::move(options)),
      root_(options_.root ? *options_.root : default_root(options_.environment)),
      log_(options_.log) {
  options_.download.progress = options_.progress;
  options_.download.log = options_.log;
}

fs::path ImageCache::default_root(const Environment& env) {
  if (auto own = env.get("VMCTL_IMAGE_CACHE")) {
    if (!fs::path(*own).is_absolute()) {
      throw Error(errc::image_bad_source, fmt::format("VMCTL_IMAGE_CACHE={} is not an absolute path", *own),
                  "set VMCTL_IMAGE_CACHE to an absolute path, or unset it");
    }
    return fs::path(*own);
  }
  auto xdg = env.get("XDG_CACHE_HOME");
  if (xdg && fs::path(*xdg).is_absolute()) return fs::path(*xdg) / "vmctl" / "images";
  auto home = env.get("HOME");
  if (!home) {
    throw Error(errc::image_bad_source, "cannot find the image cache: neither XDG_CACHE_HOME nor HOME is set",
                "set XDG_CACHE_HOME or HOME");
  }
  return fs::path(*home) / ".cache" / "vmctl" / "images";
}

std::string ImageCache::key_for(std::string_view source) { return sha256_hex(source); }

std::optional<std::string> ImageCache::named_source(const std::string& source) const {
  if (!is_image_name(source)) return std::nullopt;
  std::error_code ec;
  if (fs::exists(source, ec)) return std::nullopt;  // a file of that name in the current folder wins
  return ImageNames(root_).source_of(source);
}

void ImageCache::set_name(const std::string& name, const std::string& source) const {
  std::string target = named_source(source).value_or(source);
  if (!is_url(target) && !is_oci_source(target)) target = fs::absolute(target).lexically_normal().string();
  ImageNames(root_).set(name, target);
}

fs::path ImageCache::path_for(const std::string& source) const {
  if (is_url(source) || is_oci_source(source)) return root_ / key_for(source) / kImage;
  if (auto named = named_source(source)) return path_for(*named);
  fs::path path = fs::absolute(source).lexically_normal();
  if (auto key = local_key(path)) return root_ / *key / kImage;
  return path;
}

std::optional<std::string> ImageCache::local_key(const fs::path& file) const {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  if (detect_compression(file) == Compression::none) return std::nullopt;
  const long long mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  return sha256_hex(fmt::format("local\n{}\n{}\n{}", file.string(), static_cast<long long>(st.st_size), mtime_ns));
}

fs::path ImageCache::pull(const std::string& source, const std::optional<std::string>& expected_sha256) {
  std::optional<std::string> expected;
  if (expected_sha256) {
    if (!is_sha256_hex(*expected_sha256)) {
      throw Error(errc::image_bad_checksum,
                  fmt::format("\"{}\" is not a SHA-256 digest", *expected_sha256),
                  "give the checksum as 64 hexadecimal digits");
    }
    expected = lower(*expected_sha256);
  }
  if (source.empty()) {
    throw Error(errc::image_bad_source, "the image source is empty", "give a path, an http(s) URL or an oci:// reference");
  }
  if (is_url(source)) return fetch(source, key_for(source), expected);
  if (is_oci_source(source)) {
    parse_oci_reference(source);  // a malformed reference fails before anything is locked or created
    return fetch(source, key_for(source), expected);
  }
  if (source.find("://") != std::string::npos) {
    throw Error(errc::image_bad_source, fmt::format("unsupported image source {}", source),
                "give a local path, an http:// or https:// URL, or an oci:// reference");
  }
  if (auto named = named_source(source)) return pull(*named, expected_sha256);
  std::error_code ec;
  fs::path path = fs::absolute(source, ec);
  if (ec || !fs::is_regular_file(path, ec)) {
    throw Error(errc::image_not_found, fmt::format("image {} does not exist or is not a file", source),
                is_image_name(source) ? "check the path; no image was given this name either" : "check the path");
  }
  std::string actual;
  if (expected) {
    actual = sha256_file(path);
    if (actual != *expected) {
      throw Error(errc::image_checksum_mismatch,
                  fmt::format("checksum mismatch for {}: expected sha256 {}, got {}", source, *expected, actual),
                  "the file is not the one the checksum describes");
    }
  }
  // A compressed file is decompressed into the cache, once per version of it.
  const fs::path normal = path.lexically_normal();
  if (auto key = local_key(normal)) return import_local(normal, *key, actual);
  return path;
}

fs::path ImageCache::import_local(const fs::path& file, const std::string& key, const std::string& file_sha256) {
  create_dirs(root_);
  Lock lock(root_ / (key + ".lock"), options_.lock_timeout, file.string(), log_);
  if (auto cached = read_entry(key)) return cached->path;  // imported before (maybe while we waited)

  const fs::path dir = root_ / key;
  const fs::path image = dir / kImage;
  const fs::path decompressing = dir / kDecompressing;
  CachedImage entry = start_entry(key, file.string());
  try {
    entry.download_sha256 = file_sha256.empty() ? sha256_file(file) : file_sha256;
    Compression compression = detect_compression(file);
    entry.compression = std::string(compression_name(compression));
    log_.info("Decompressing {} ({})", file.string(), entry.compression);
    try {
      decompress_file(compression, file, decompressing);
    } catch (const Error& e) {
      if (e.code() != errc::image_decompress_failed) throw;
      throw Error(errc::image_decompress_failed, e.message(),
                  "the file is corrupt or truncated; check it, or decompress it yourself");
    }
    rename_into_place(decompressing, image);
    entry.format = detect_format(options_.qemu_img, image);
  } catch (...) {
    std::error_code rm_ec;
    fs::remove_all(dir, rm_ec);  // nothing half-imported is kept
    throw;
  }
  entry.sha256 = sha256_file(image);
  return finish_entry(entry);
}

void ImageCache::download_source(const std::string& source, const fs::path& partial, CachedImage& entry) const {
  if (!is_oci_source(source)) {
    DownloadOptions options = options_.download;
    options.ca_file = ca_file_from_environment(options_.environment, options.ca_file);
    download(source, partial, options);
    return;
  }
  OciReference reference = parse_oci_reference(source);
  RegistryOptions registry_options = RegistryOptions::from_environment(options_.environment, options_.download,
                                                                       reference.host());
  RegistryClient registry(std::move(reference), std::move(registry_options));
  OciLayer layer = registry.resolve();
  registry.download_layer(layer, partial);
  entry.manifest_digest = layer.manifest_digest;
  entry.blob_digest = layer.digest;
  entry.download_sha256 = layer.digest.substr(std::string_view("sha256:").size());  // verified: no second read
}

fs::path ImageCache::fetch(const std::string& url, const std::string& key, const std::optional<std::string>& expected) {
  create_dirs(root_);
  Lock lock(root_ / (key + ".lock"), options_.lock_timeout, url, log_);
  const fs::path dir = root_ / key;

  // Someone may have finished the download while we waited for the lock.
  if (auto cached = read_entry(key)) {
    if (expected && *expected != cached->download_sha256) {
      throw Error(errc::image_checksum_mismatch,
                  fmt::format("checksum mismatch for {}: expected sha256 {}, the cached download has {}", url,
                              *expected, cached->download_sha256),
                  "check the checksum, or remove the cached image and pull again");
    }
    return cached->path;
  }

  const fs::path partial = dir / kPartial;
  const fs::path image = dir / kImage;
  const fs::path decompressing = dir / kDecompressing;
  CachedImage entry = start_entry(key, url);  // a partial download stays, to be resumed
  try {
    download_source(url, partial, entry);
  } catch (...) {
    // Nothing worth resuming (an HTTP error, a refused connection): leave no trace.
    std::error_code size_ec;
    if (fs::file_size(partial, size_ec) == 0 || size_ec) {
      std::error_code rm_ec;
      fs::remove_all(dir, rm_ec);
    }
    throw;
  }

  if (entry.download_sha256.empty()) entry.download_sha256 = sha256_file(partial);
  if (expected && *expected != entry.download_sha256) {
    std::error_code rm_ec;
    fs::remove_all(dir, rm_ec);  // the download and its folder: nothing cached
    throw Error(errc::image_checksum_mismatch,
                fmt::format("checksum mismatch for {}: expected sha256 {}, downloaded {}", url, *expected,
                            entry.download_sha256),
                "the download was deleted; check the checksum and the URL");
  }

  Compression compression = detect_compression(partial);
  entry.compression = std::string(compression_name(compression));
  try {
    if (compression == Compression::none) {
      fsync_file(partial);
      rename_into_place(partial, image);
    } else {
      decompress_file(compression, partial, decompressing);
      rename_into_place(decompressing, image);
      remove_quietly(partial);
    }
    entry.format = detect_format(options_.qemu_img, image);
  } catch (...) {
    std::error_code rm_ec;
    fs::remove_all(dir, rm_ec);  // a corrupt or unusable download is not kept
    throw;
  }
  entry.sha256 = compression == Compression::none ? entry.download_sha256 : sha256_file(image);
  return finish_entry(entry);
}

CachedImage ImageCache::start_entry(const std::string& key, const std::string& source) const {
  const fs::path dir = root_ / key;
  create_dirs(dir);
  remove_quietly(dir / kDecompressing);  // what an interrupted pull left
  remove_quietly(dir / kMeta);
  CachedImage entry;
  entry.key = key;
  entry.source = source;
  return entry;
}

fs::path ImageCache::finish_entry(CachedImage& entry) const {
  const fs::path dir = root_ / entry.key;
  entry.path = dir / kImage;
  std::error_code ec;
  entry.size = fs::file_size(entry.path, ec);
  entry.fetched_at = now_utc();
  // The metadata last: an entry counts as cached only once it is written.
  os::write_file_atomic(dir / kMeta, to_json(entry).dump(2) + "\n", 0644);
  return entry.path;
}

std::optional<CachedImage> ImageCache::read_entry(const std::string& key) const {
  const fs::path dir = root_ / key;
  std::error_code ec;
  if (!fs::is_regular_file(dir / kImage, ec)) return std::nullopt;
  auto text = os::read_file(dir / kMeta);
  if (!text) return std::nullopt;
  try {
    auto json = nlohmann::json::parse(*text);
    CachedImage image;
    image.key = key;
    image.path = dir / kImage;
    image.source = json.at("source").get<std::string>();
    image.sha256 = json.at("sha256").get<std::string>();
    image.download_sha256 = json.value("download_sha256", image.sha256);
    image.compression = json.value("compression", std::string("none"));
    image.format = json.at("format").get<std::string>();
    image.size = json.at("size").get<std::uint64_t>();
    image.fetched_at = json.value("fetched_at", std::string());
    image.manifest_digest = json.value("manifest_digest", std::string());
    image.blob_digest = json.value("blob_digest", std::string());
    return image;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // half-written or foreign: treated as absent, pulled again
  }
}

std::vector<CachedImage> ImageCache::list() const {
  std::vector<CachedImage> out;
  std::error_code ec;
  if (!fs::is_directory(root_, ec)) return out;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    if (!entry.is_directory(ec)) continue;
    std::string name = entry.path().filename().string();
    if (!is_sha256_hex(name)) continue;
    if (auto image = read_entry(name)) out.push_back(std::move(*image));
  }
  std::sort(out.begin(), out.end(), [](const CachedImage& a, const CachedImage& b) { return a.source < b.source; });
  return out;
}

std::string ImageCache::resolve_key(const std::string& source_or_key) const {
  std::error_code ec;
  // A whole key.
  if (is_sha256_hex(source_or_key)) {
    std::string key = lower(source_or_key);
    if (fs::exists(root_ / key, ec)) return key;
  }
  // A source pulled as such.
  const std::string by_source = key_for(source_or_key);
  if (fs::exists(root_ / by_source, ec)) return by_source;

  auto ambiguous = [&](const std::vector<std::string>& keys) {
    std::string candidates;
    for (const auto& key : keys) {
      if (!candidates.empty()) candidates += ", ";
      candidates += key.substr(0, kShortKey);
      if (auto entry = read_entry(key)) candidates += " (" + entry->source + ")";
    }
    return Error(errc::image_ambiguous,
                 fmt::format("{} names {} cached images: {}", source_or_key, keys.size(), candidates),
                 "give more characters of the key (the listing of cached images shows whole keys)");
  };

  // A compressed local file: the entry of its current version, else the one
  // entry imported from that path before it changed.
  if (!source_or_key.empty() && source_or_key.find("://") == std::string::npos) {
    const fs::path path = fs::absolute(source_or_key, ec).lexically_normal();
    if (!ec) {
      if (auto key = local_key(path); key && fs::exists(root_ / *key, ec)) return *key;
      std::vector<std::string> keys;
      for (const auto& entry : list()) {
        if (entry.source == path.string()) keys.push_back(entry.key);
      }
      if (keys.size() == 1) return keys[0];
      if (keys.size() > 1) throw ambiguous(keys);
    }
  }

  // A unique prefix of a key.
  if (source_or_key.size() >= kMinKeyPrefix && source_or_key.size() < 64 && is_hex(source_or_key)) {
    const std::string prefix = lower(source_or_key);
    std::vector<std::string> keys;
    if (fs::is_directory(root_, ec)) {
      for (const auto& entry : fs::directory_iterator(root_, ec)) {
        std::string name = entry.path().filename().string();
        if (entry.is_directory(ec) && is_sha256_hex(name) && name.starts_with(prefix)) keys.push_back(name);
      }
    }
    std::sort(keys.begin(), keys.end());
    if (keys.size() == 1) return keys[0];
    if (keys.size() > 1) throw ambiguous(keys);
  }
  return by_source;  // no such entry: the callers report it
}

CachedImage ImageCache::inspect(const std::string& source_or_key) const {
  if (auto named = named_source(source_or_key)) return inspect(*named);
  if (auto image = read_entry(resolve_key(source_or_key))) return *image;
  throw Error(errc::image_not_found, fmt::format("no cached image for {}", source_or_key),
              "see the cached images with list, or pull the source first");
}

void ImageCache::remove(const std::string& source_or_key) {
  const std::string key = resolve_key(source_or_key);
  const fs::path dir = root_ / key;
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    throw Error(errc::image_not_found, fmt::format("no cached image for {}", source_or_key),
                "see the cached images with list");
  }
  const fs::path lock_path = root_ / (key + ".lock");
  Lock lock(lock_path, options_.lock_timeout, source_or_key, log_);
  // meta.json first: a crash midway leaves an incomplete entry, never a
  // complete-looking one without its image.
  remove_quietly(dir / kMeta);
  fs::remove_all(dir, ec);
  if (ec) io_error("remove", dir, ec.message());
  remove_quietly(lock_path);  // waiters notice the unlink and lock a fresh file
}

}  // namespace vm_manager::image
