#include "image/ca_file.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "os/files.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::image {
namespace fs = std::filesystem;

namespace {
constexpr std::size_t kMaxCaFile = 16 << 20;  // the whole Mozilla bundle is ~220 KiB
}  // namespace

std::string ca_file_from_environment(const Environment& env, const std::string& fallback) {
  const std::string value = env.get(kCaFileVariable).value_or("");
  if (value.empty()) return fallback;
  const std::string path = fs::absolute(value).lexically_normal().string();
  const std::string hint = fmt::format("point {} at a PEM file of CA certificates, or unset it to use the system's",
                                       kCaFileVariable);
  std::string content;
  try {
    content = os::read_regular_file(path, kMaxCaFile, fmt::format("{}'s CA file", kCaFileVariable));
  } catch (const Error& e) {
    throw Error(e.code(), e.message(), hint);
  }
  if (content.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    throw Error(errc::input_unreadable,
                fmt::format("{}'s CA file {} holds no PEM certificate", kCaFileVariable, path), hint);
  }
  return path;
}

std::string tls_hint(net::TransferFailure failure) {
  switch (failure) {
    case net::TransferFailure::tls_untrusted:
      return fmt::format("if the server's certificate comes from a private certificate authority, set {} to a PEM "
                         "file of that authority's certificate",
                         kCaFileVariable);
    case net::TransferFailure::tls_expired:
      return "the server's certificate must be renewed (or this machine's clock is wrong); do not work around it";
    case net::TransferFailure::tls_wrong_host:
      return "use the host name the server's certificate is made out for; a different one may be an impostor";
    default:
      return fmt::format("check the address (is it a plain-HTTP server?) and {} if it is set", kCaFileVariable);
  }
}

}  // namespace vm_manager::image
