// What makes resuming a download safe: the validator (ETag or Last-Modified)
// of the bytes in a .partial file, kept beside it in "<partial>.validator",
// and reading what an answer says of the range and version it carries.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace vm_manager::image {

using Headers = std::map<std::string, std::string>;  // lower-case names, as net/ gives them

// The validator kept for `partial`; nullopt when there is none or it is not
// usable: the file is read as untrusted input (a regular file of at most a
// few hundred bytes, printable ASCII only), since it goes into a header.
std::optional<std::string> read_validator(const std::filesystem::path& partial);
// Keeps `validator` for `partial` (replaced atomically), or forgets it when
// nullopt. Raises store::io.
void remember_validator(const std::filesystem::path& partial, const std::optional<std::string>& validator);
void forget_validator(const std::filesystem::path& partial);

// What identifies this version of the file for If-Range: its ETag when
// strong (a weak one may not be used), else its Last-Modified; nullopt when
// it has neither (or one we would not send back).
std::optional<std::string> validator_of(const Headers& headers);
// Whether a 206's headers name the version `validator` names (an ETag or a
// date); an answer that does not say is taken at its word.
bool same_version(const Headers& headers, const std::string& validator);

struct ContentRange {
  std::uint64_t first = 0;
  std::optional<std::uint64_t> size;  // of the whole file, unless "*"
};
// "bytes 1000-4999/5000" (RFC 9110 §14.4); nullopt for anything else.
std::optional<ContentRange> parse_content_range(std::string_view value);
// A Content-Length value; nullopt unless it is all digits.
std::optional<std::uint64_t> parse_content_length(std::string_view value);

// The value of header `name` (lower case), or nullptr.
const std::string* find_header(const Headers& headers, const std::string& name);

}  // namespace vm_manager::image
