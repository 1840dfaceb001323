#include "image/resume.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "os/files.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace fs = std::filesystem;
namespace {

constexpr std::size_t kMaxValidator = 512;

fs::path validator_path(const fs::path& partial) { return fs::path(partial).concat(".validator"); }

// A value we may send back in a header: printable ASCII, no CR or LF.
bool sendable(std::string_view value) {
  return !value.empty() && value.size() <= kMaxValidator &&
         std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

std::optional<std::uint64_t> number(std::string_view text) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

}  // namespace

std::optional<std::string> read_validator(const fs::path& partial) {
  std::string text;
  try {
    text = os::read_regular_file(validator_path(partial), kMaxValidator + 1, "download validator");
  } catch (const vm_manager::Error&) {
    return std::nullopt;  // missing, not a regular file, too large: nothing known
  }
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!sendable(text)) return std::nullopt;
  return text;
}

void forget_validator(const fs::path& partial) {
  const fs::path path = validator_path(partial);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    throw vm_manager::Error(errc::store_io, fmt::format("cannot remove {}: {}", path.string(), std::strerror(errno)),
                            "check the permissions of the image cache");
  }
}

void remember_validator(const fs::path& partial, const std::optional<std::string>& validator) {
  if (!validator) return forget_validator(partial);
  // Durable: after a crash, the validator never names bytes the partial no longer has.
  os::write_file_atomic(validator_path(partial), *validator + "\n", 0644);
}

const std::string* find_header(const Headers& headers, const std::string& name) {
  auto it = headers.find(name);
  return it == headers.end() ? nullptr : &it->second;
}

std::optional<std::string> validator_of(const Headers& headers) {
  const std::string* etag = find_header(headers, "etag");
  if (etag && !etag->starts_with("W/") && sendable(*etag)) return *etag;
  const std::string* modified = find_header(headers, "last-modified");
  if (modified && sendable(*modified)) return *modified;
  return std::nullopt;
}

bool same_version(const Headers& headers, const std::string& validator) {
  const bool is_etag = validator.starts_with('"');
  const std::string* theirs = find_header(headers, is_etag ? "etag" : "last-modified");
  return !theirs || *theirs == validator;
}

std::optional<ContentRange> parse_content_range(std::string_view value) {
  if (!value.starts_with("bytes ")) return std::nullopt;
  value.remove_prefix(6);
  const std::size_t dash = value.find('-');
  const std::size_t slash = value.find('/');
  if (dash == std::string_view::npos || slash == std::string_view::npos || dash > slash) return std::nullopt;
  const auto first = number(value.substr(0, dash));
  const auto last = number(value.substr(dash + 1, slash - dash - 1));
  if (!first || !last || *last < *first) return std::nullopt;
  ContentRange range{*first, std::nullopt};
  if (value.substr(slash + 1) != "*") {
    range.size = number(value.substr(slash + 1));
    if (!range.size || *range.size <= *last) return std::nullopt;
  }
  return range;
}

std::optional<std::uint64_t> parse_content_length(std::string_view value) { return number(value); }

}  // namespace vm_manager::image
