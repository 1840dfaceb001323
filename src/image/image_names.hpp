// Names for image sources ("debian12" for a long URL or OCI reference),
// given with Images::name and usable wherever a source is: a file per name
// under <cache root>/names/, holding the source.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace vm_manager::image {

// 1-63 of [A-Za-z0-9_.-], starting alphanumeric: never a path with a folder,
// a URL or an OCI reference, so a name cannot be taken for one of them.
bool is_image_name(std::string_view text);

class ImageNames {
 public:
  explicit ImageNames(std::filesystem::path cache_root);

  // Records (or replaces) `name` for `source`. Raises image::bad_source for
  // an invalid name, store::io.
  void set(const std::string& name, const std::string& source) const;
  // The source of a recorded name, nullopt for any other text. Raises
  // store::io (an unreadable record).
  std::optional<std::string> source_of(std::string_view name) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace vm_manager::image
