#include "image/image_names.hpp"

#include <algorithm>
#include <cctype>
#include <system_error>

#include <fmt/format.h>

#include "os/files.hpp"
#include "util/printable.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace fs = std::filesystem;
namespace {

// A source is one line; a record bigger than this is not one of ours.
constexpr std::size_t kMaxRecordBytes = 8192;

bool name_char(unsigned char c) { return std::isalnum(c) != 0 || c == '_' || c == '.' || c == '-'; }

}  // namespace

bool is_image_name(std::string_view text) {
  return !text.empty() && text.size() <= 63 && std::isalnum(static_cast<unsigned char>(text.front())) != 0 &&
         std::all_of(text.begin(), text.end(), [](char c) { return name_char(static_cast<unsigned char>(c)); });
}

ImageNames::ImageNames(fs::path cache_root) : dir_(std::move(cache_root) / "names") {}

void ImageNames::set(const std::string& name, const std::string& source) const {
  if (!is_image_name(name)) {
    throw Error(errc::image_bad_source, fmt::format("'{}' is not a valid image name", util::printable(name)),
                "use 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit");
  }
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) {
    throw Error(errc::store_io, fmt::format("cannot create {}: {}", dir_.string(), ec.message()),
                "check the permissions and free space of the image cache");
  }
  os::write_file_atomic(dir_ / name, source + "\n", 0644);
}

std::optional<std::string> ImageNames::source_of(std::string_view name) const {
  if (!is_image_name(name)) return std::nullopt;
  const fs::path record = dir_ / std::string(name);
  std::error_code ec;
  if (!fs::is_regular_file(record, ec)) return std::nullopt;
  std::string text = os::read_regular_file(record, kMaxRecordBytes, "image name record");
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return std::nullopt;
  return text;
}

}  // namespace vm_manager::image
