// Images (vm_manager/images.hpp): the public face of the image cache
// (src/image/), which knows nothing of VMs; here it learns which VMs use an
// entry.
#include "vm_manager/images.hpp"

#include <set>
#include <system_error>

#include <fmt/format.h>

#include "image/image_cache.hpp"
#include "image/image_file_info.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/store.hpp"

namespace vm_manager {
namespace fs = std::filesystem;
namespace {

static_assert(Images::kShortKey == image::ImageCache::kShortKey);
static_assert(Images::kMinKeyPrefix == image::ImageCache::kMinKeyPrefix);

ImageInfo info_of(image::CachedImage entry) {
  return ImageInfo{std::move(entry.key),         std::move(entry.source),   std::move(entry.path),
                   std::move(entry.sha256),      std::move(entry.download_sha256), std::move(entry.compression),
                   std::move(entry.format),      entry.size,                std::move(entry.fetched_at),
                   std::move(entry.manifest_digest), std::move(entry.blob_digest)};
}

image::ImageCacheOptions cache_options(const ImageCacheConfig& config, const ProgressCallback& progress) {
  image::ImageCacheOptions options;
  options.root = config.root;
  options.environment = config.environment;
  options.progress = progress;
  options.log = config.log;
  return options;
}

}  // namespace

Images::Images(ImageCacheConfig config, const VmStore& vms) : config_(std::move(config)), vms_(vms) {}

fs::path Images::root() const { return image::ImageCache(cache_options(config_, {})).root(); }

fs::path Images::pull(const std::string& source, const std::optional<std::string>& sha256,
                      const ProgressCallback& progress) {
  return image::ImageCache(cache_options(config_, progress)).pull(source, sha256);
}

fs::path Images::path_for(const std::string& source) const {
  return image::ImageCache(cache_options(config_, {})).path_for(source);
}

std::vector<ImageInfo> Images::list() const {
  std::vector<ImageInfo> images;
  for (auto& entry : image::ImageCache(cache_options(config_, {})).list()) images.push_back(info_of(std::move(entry)));
  return images;
}

ImageInfo Images::inspect(const std::string& source_or_key) const {
  return info_of(image::ImageCache(cache_options(config_, {})).inspect(source_or_key));
}

void Images::name(const std::string& name, const std::string& source) {
  image::ImageCache(cache_options(config_, {})).set_name(name, source);
}

ImageFileInfo Images::inspect_file(const fs::path& path) const {
  image::ImageFileDetails details = image::image_file_details(cache_options(config_, {}).qemu_img, path);
  return ImageFileInfo{std::move(details.path),         std::move(details.format),
                       details.virtual_size,            details.actual_size,
                       std::move(details.backing_file), std::move(details.backing_format)};
}

std::vector<std::string> Images::users(const ImageInfo& image) const {
  std::set<std::string> names;
  std::error_code ec;
  auto same = [&](const std::string& path) {
    if (path.empty()) return false;
    if (fs::path(path).lexically_normal() == image.path.lexically_normal()) return true;
    return fs::equivalent(path, image.path, ec);
  };
  for (const auto& entry : vms_.list()) {
    if (!entry.record) continue;
    // The spec holds the resolved image the VM was made from (the backend
    // keeps its own copy of that path in its state).
    if (same(entry.record->spec.image_path)) names.insert(entry.name);
  }
  return {names.begin(), names.end()};
}

void Images::remove(const std::string& source_or_key, bool even_if_used) {
  image::ImageCache cache(cache_options(config_, {}));
  std::optional<ImageInfo> entry;
  try {
    entry = info_of(cache.inspect(source_or_key));
  } catch (const Error& e) {
    if (e.code() != errc::image_not_found) throw;  // an incomplete entry is still removed below
  }
  if (entry && !even_if_used) {
    std::vector<std::string> vms = users(*entry);
    if (!vms.empty()) {
      std::string list;
      for (const auto& name : vms) list += (list.empty() ? "'" : ", '") + name + "'";
      throw Error(errc::image_in_use,
                  fmt::format("cached image {} ({}) is used by VM {}", entry->key.substr(0, kShortKey),
                              entry->source, list),
                  "destroy those VMs first, or remove the image even though they use it");
    }
  }
  cache.remove(entry ? entry->key : source_or_key);
}

}  // namespace vm_manager
