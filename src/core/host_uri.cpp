#include "core/host_uri.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "util/printable.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager {
namespace {

// libvirt's remote transports (libvirt.org/uri.html) that vmctl uses; none:
// the local socket.
constexpr std::array<std::string_view, 5> kTransports = {"ssh", "tcp", "tls", "unix", "ext"};

bool is_control_or_space(char c) { return static_cast<unsigned char>(c) <= ' ' || c == '\x7f'; }

std::string scheme_problem(std::string_view scheme) {
  const std::size_t plus = scheme.find('+');
  const std::string_view driver = scheme.substr(0, plus);
  if (driver == "test") {
    return plus == std::string_view::npos ? "" : "libvirt's test driver runs in-process, with no transport";
  }
  if (driver != "qemu") {
    return fmt::format("the driver '{}' is not qemu: vmctl's VMs are QEMU domains", util::printable(driver));
  }
  if (plus == std::string_view::npos) return {};
  const std::string_view transport = scheme.substr(plus + 1);
  // Seen with libvirt 9.0 (Debian 12): finishing a stream (a volume's
  // download, which `vmctl log` of a remote VM is) over the libssh transport
  // crashes the client inside virStreamFinish. qemu+ssh carries the same.
  if (transport == "libssh" || transport == "libssh2") {
    return fmt::format("vmctl does not use libvirt's {} transport (its streams crash the client in libvirt 9.0): "
                       "use qemu+ssh://",
                       transport);
  }
  if (std::find(kTransports.begin(), kTransports.end(), transport) == kTransports.end()) {
    return fmt::format("'{}' is no libvirt transport vmctl uses (ssh, tcp, tls, unix, ext)",
                       util::printable(transport));
  }
  return {};
}

}  // namespace

std::string host_uri_problem(std::string_view uri) {
  if (uri.empty()) return "it is empty";
  if (std::any_of(uri.begin(), uri.end(), is_control_or_space)) return "it holds a space or a control character";
  const std::size_t separator = uri.find("://");
  if (separator == std::string_view::npos || separator == 0) return "it has no scheme (DRIVER[+TRANSPORT]://)";
  if (std::string problem = scheme_problem(uri.substr(0, separator)); !problem.empty()) return problem;
  std::string_view rest = uri.substr(separator + 3);
  rest = rest.substr(0, rest.find('?'));
  const std::size_t slash = rest.find('/');
  const std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (uri.starts_with("test:")) return path.empty() ? "it has no path (test:///default)" : "";
  if (path.empty()) return "it has no path: end it with /system (or /session)";
  if (path != "/system" && path != "/session") {
    return fmt::format("its path is '{}', not /system or /session", util::printable(path));
  }
  return {};
}

void validate_host_uri(std::string_view uri) {
  const std::string problem = host_uri_problem(uri);
  if (problem.empty()) return;
  throw Error(errc::spec_invalid, fmt::format("invalid libvirt URI '{}': {}", util::printable(uri), problem),
              "write it as qemu:///system (this machine) or qemu+ssh://USER@HOST/system (another one)");
}

}  // namespace vm_manager
