#include "cloudinit/mime.hpp"

#include <yaml-cpp/yaml.h>

#include <random>

#include <fmt/format.h>

#include "util/base64.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::cloudinit {
namespace {


[[noreturn]] void unsupported(std::string message, std::string help) {
  throw Error(errc::cloudinit_invalid_user_data, std::move(message), std::move(help));
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char a = text[i];
    char b = prefix[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

std::string_view first_line(std::string_view text) {
  auto line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  return line;
}

// Plain text we can put in a part as it is: ASCII without CR or NUL, lines
// within RFC 5322's 998 octets.
bool is_plain_7bit(std::string_view text) {
  std::size_t line_length = 0;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0 || u == '\r' || u >= 0x80) return false;
    if (c == '\n') {
      line_length = 0;
    } else if (++line_length > 998) {
      return false;
    }
  }
  return true;
}

std::string wrap_base64(std::string_view bytes) {
  const std::string encoded = util::base64_encode(bytes);
  std::string out;
  for (std::size_t i = 0; i < encoded.size(); i += 76) {
    out += encoded.substr(i, 76);
    out += '\n';
  }
  return out;
}

std::string random_boundary() {
  std::random_device device;
  std::uniform_int_distribution<unsigned> digit(0, 15);
  std::string hex;
  for (int i = 0; i < 24; ++i) hex += "0123456789abcdef"[digit(device)];
  return "==vmctl-" + hex + "==";
}

}  // namespace

std::string detect_content_type(std::string_view user_data) {
  if (user_data.size() >= 2 && static_cast<unsigned char>(user_data[0]) == 0x1f &&
      static_cast<unsigned char>(user_data[1]) == 0x8b) {
    unsupported("the user-data is gzip-compressed, which cannot be combined with vmctl's cloud-config",
                "decompress it (gunzip) and pass the plain text");
  }
  const std::string_view line = first_line(user_data);
  if (starts_with_ci(line, "content-type:") || starts_with_ci(line, "mime-version:")) {
    unsupported("the user-data is already a MIME archive, which vmctl cannot merge its cloud-config into",
                "pass the parts (a #cloud-config file or a #! script) instead of the archive");
  }
  if (line == "#cloud-config") return "text/cloud-config";
  if (line.starts_with("#cloud-config-archive") || line.starts_with("#cloud-config-jsonp")) {
    unsupported(fmt::format("the user-data format \"{}\" is not supported", line),
                "write the user-data as #cloud-config YAML instead");
  }
  if (line.starts_with("#cloud-config")) return "text/cloud-config";
  if (line.starts_with("#!")) return "text/x-shellscript";
  if (line.starts_with("#include-once")) return "text/x-include-once-url";
  if (line.starts_with("#include")) return "text/x-include-url";
  if (line.starts_with("#cloud-boothook")) return "text/cloud-boothook";
  if (line.starts_with("## template:")) {
    unsupported("jinja-templated user-data is not supported", "render the template and pass the result");
  }
  for (char c : user_data) {
    if (c == '\0') {
      unsupported("the user-data is binary", "pass a #cloud-config file or a #! script");
    }
  }
  bool mapping = false;
  try {
    mapping = YAML::Load(std::string(user_data)).IsMap();
  } catch (const YAML::Exception&) {
    mapping = false;
  }
  if (!mapping) {
    unsupported("the user-data is neither a #cloud-config document, a #! script, an #include list nor a YAML mapping",
                "start a cloud-config file with the line \"#cloud-config\" or a script with \"#!\"");
  }
  return "text/cloud-config";
}

std::string make_multipart(const std::vector<MimePart>& parts) {
  struct Encoded {
    std::string headers;
    std::string body;
  };
  std::vector<Encoded> encoded;
  for (const MimePart& part : parts) {
    Encoded e;
    e.headers = fmt::format("Content-Type: {}; charset=\"utf-8\"\n", part.content_type);
    if (!part.merge_type.empty()) e.headers += fmt::format("Merge-Type: {}\n", part.merge_type);
    if (is_plain_7bit(part.content)) {
      e.headers += "Content-Transfer-Encoding: 7bit\n";
      e.body = part.content;
    } else {
      e.headers += "Content-Transfer-Encoding: base64\n";
      e.body = wrap_base64(part.content);
      // Keep the body's own last newline out of the payload: the newline
      // before a delimiter belongs to the delimiter.
      e.body.pop_back();
    }
    encoded.push_back(std::move(e));
  }

  std::string boundary;
  for (;;) {
    boundary = random_boundary();
    bool clash = false;
    for (const Encoded& e : encoded) {
      if (e.body.find(boundary) != std::string::npos || e.headers.find(boundary) != std::string::npos) clash = true;
    }
    if (!clash) break;
  }

  std::string out = fmt::format("Content-Type: multipart/mixed; boundary=\"{}\"\nMIME-Version: 1.0\n\n", boundary);
  for (const Encoded& e : encoded) {
    out += fmt::format("--{}\n{}MIME-Version: 1.0\n\n", boundary, e.headers);
    out += e.body;
    out += '\n';
  }
  out += fmt::format("--{}--\n", boundary);
  return out;
}

std::string combine_user_data(std::string_view generated_cloud_config, std::string_view user_data) {
  if (user_data.empty()) return std::string(generated_cloud_config);
  const std::string user_type = detect_content_type(user_data);
  std::vector<MimePart> parts;
  parts.push_back({"text/cloud-config", std::string(generated_cloud_config), std::string(kMergeType)});
  parts.push_back({user_type, std::string(user_data),
                   user_type == "text/cloud-config" ? std::string(kMergeType) : std::string()});
  return make_multipart(parts);
}

}  // namespace vm_manager::cloudinit
