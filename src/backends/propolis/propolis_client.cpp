#include "backends/propolis/propolis_client.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/propolis/instance_spec.hpp"
#include "net/http_client.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::propolis {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// curl reads a timeout of 0 as "no timeout at all": never hand it one.
constexpr milliseconds kMinimumTimeout{1};

// Server text is untrusted: keep messages on one line and of sane length.
std::string one_line(std::string_view text, std::size_t limit = 300) {
  std::string out;
  for (char c : text.substr(0, limit)) {
    auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  if (text.size() > limit) out += "…";
  return out;
}

const char* reason(long status) {
  switch (status) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 424: return "Failed Dependency";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "";
  }
}

// dropshot's error body is {request_id, error_code?, message}; anything
// else is quoted as it came.
std::string server_said(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("message") || !j["message"].is_string())
    return body.empty() ? "(no body)" : one_line(body);
  std::string text;
  if (j.contains("error_code") && j["error_code"].is_string()) text = j["error_code"].get<std::string>() + ": ";
  text += j["message"].get<std::string>();
  if (j.contains("request_id") && j["request_id"].is_string())
    text += " (request id " + j["request_id"].get<std::string>() + ")";
  return one_line(text);
}

// The "message" of a dropshot error body, if it has one.
std::optional<std::string> server_message(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("message") || !j["message"].is_string()) return std::nullopt;
  return j["message"].get<std::string>();
}

// dropshot's version check (oxidecomputer/dropshot dropshot/src/versioning.rs
// at fb0fd916, ClientSpecifiesVersionInHeader, which propolis-server's
// main.rs uses with the header "api-version") answers 400 "server does not
// support this API version: <the version asked for>" when the client's
// version is newer than the server's, and 400 `missing expected header
// "api-version"` without one. Neither names the server's own version.
enum class VersionAnswer { accepted, too_new, header_missing };

VersionAnswer version_answer(long status, const std::string& body) {
  if (status != 400) return VersionAnswer::accepted;
  std::optional<std::string> message = server_message(body);
  if (message && message->starts_with("server does not support this API version")) return VersionAnswer::too_new;
  if (message && *message == "missing expected header \"api-version\"") return VersionAnswer::header_missing;
  return VersionAnswer::accepted;
}

// The versions propolis-server's API had before 5.0.0, newest first
// (oxidecomputer/propolis crates/propolis-server-api/src/lib.rs
// api_versions!, 372a5744). Every one of them has GET /instance.
constexpr std::array<std::string_view, 4> kOlderApiVersions = {"4.0.0", "3.0.0", "2.0.0", "1.0.0"};
// A probe is a courtesy to the error message: it never waits long.
constexpr milliseconds kProbeTimeout{5000};

std::string_view status_code(long status) {
  if (status == 409) return errc::propolis_conflict;
  if (status == 424 || status == 410) return errc::propolis_no_instance;
  return errc::propolis_request_failed;
}

std::string status_help(long status, const std::string& address) {
  if (status == 409) return "propolis-server already has an instance; stop and destroy it before creating another";
  if (status == 424 || status == 410) return "propolis-server has no running instance; start the VM again";
  if (status >= 500) return fmt::format("see the log of the propolis-server at {} for the details", address);
  return "this request should not have been refused; please report it as a vmctl bug";
}

json parse_answer(const std::string& body, std::string_view what, const std::string& address) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded())
    throw Error(errc::propolis_request_failed,
                fmt::format("propolis-server at {} answered {} with something that is not JSON: {}", address, what,
                            one_line(body, 80)),
                "check that the address belongs to a propolis-server speaking API version 5.0.0");
  return j;
}

[[noreturn]] void unexpected(std::string_view what, const std::string& address, const std::string& detail) {
  throw Error(errc::propolis_request_failed,
              fmt::format("propolis-server at {} gave an unexpected answer to {}: {}", address, what, detail),
              "check that the address belongs to a propolis-server speaking API version 5.0.0");
}

std::vector<std::string> request_headers(bool with_body, std::string_view api_version) {
  std::vector<std::string> lines = {fmt::format("api-version: {}", api_version), "Accept: application/json"};
  // "Expect:" stops curl from waiting for a 100 Continue dropshot never sends.
  if (with_body) lines.insert(lines.end(), {"Content-Type: application/json", "Expect:"});
  return lines;
}

}  // namespace

PropolisClient::PropolisClient(std::string address, milliseconds request_timeout)
    : address_(std::move(address)), request_timeout_(request_timeout) {}

PropolisClient::Response PropolisClient::perform(std::string_view method, const std::string& target,
                                                 const std::string* body, milliseconds timeout,
                                                 std::string_view api_version) const {
  timeout = std::max(timeout, kMinimumTimeout);
  net::HttpRequest request;
  request.method = std::string(method);
  request.url = "http://" + address_ + target;
  request.headers = request_headers(body != nullptr, api_version);
  // Whatever the method: the state monitor is a GET with a JSON body.
  if (body) request.body = *body;
  request.timeouts.total = timeout;
  request.timeouts.connect = std::min(timeout, request_timeout_);
  net::HttpResponse r = net::perform(request);
  if (r.failure == net::TransferFailure::timed_out)
    throw Error(errc::propolis_timeout,
                fmt::format("propolis-server at {} did not answer {} {} within {} ms", address_, method, target,
                            timeout.count()),
                "propolis-server is slow or stuck; check its log and the load of the host");
  if (!r.ok())
    throw Error(errc::propolis_unreachable,
                fmt::format("cannot reach propolis-server at {} ({} {}): {}", address_, method, target,
                            one_line(r.error)),
                "check that the VM's zone is running and that propolis-server listens on that address");
  return {r.status, std::move(r.body)};
}

std::string PropolisClient::call(std::string_view method, const std::string& target, const std::string* body,
                                 milliseconds timeout) const {
  Response r = perform(method, target, body, timeout);
  if (r.status >= 200 && r.status < 300) return std::move(r.body);
  if (VersionAnswer answer = version_answer(r.status, r.body); answer != VersionAnswer::accepted) {
    std::string takes =
        answer == VersionAnswer::too_new ? versions_it_takes() : "it did not say which version it takes";
    throw Error(errc::propolis_version_mismatch,
                fmt::format("propolis-server at {} does not take API version {}, which vmctl speaks ({}): it "
                            "answered {} {} with {} {}: {}",
                            address_, kApiVersion, takes, method, target, r.status, reason(r.status),
                            server_said(r.body)),
                fmt::format("run a propolis-server that speaks API version {} (a later one accepts it too)",
                            kApiVersion));
  }
  throw Error(status_code(r.status),
              fmt::format("propolis-server at {} refused {} {}: {} {}: {}", address_, method, target, r.status,
                          reason(r.status), server_said(r.body)),
              status_help(r.status, address_));
}

// dropshot accepts any version up to the server's own, so the first older
// version GET /instance is not refused for is the newest the server takes.
// At most four requests; a failure ends the search with nothing learned.
std::string PropolisClient::versions_it_takes() const {
  const std::string unknown = "asking with older versions did not tell which it takes";
  for (std::string_view version : kOlderApiVersions) {
    Response r;
    try {
      r = perform("GET", "/instance", nullptr, std::min(request_timeout_, kProbeTimeout), version);
    } catch (const Error&) {
      return unknown;
    }
    VersionAnswer answer = version_answer(r.status, r.body);
    if (answer == VersionAnswer::accepted) return fmt::format("the newest it takes is {}", version);
    if (answer == VersionAnswer::header_missing) return unknown;
  }
  return fmt::format("it takes none of {} to {} either", kOlderApiVersions.back(), kApiVersion);
}

void PropolisClient::ensure(const nlohmann::json& request) {
  const std::string body = request.dump();
  if (body.size() > kMaxRequestBytes)
    throw Error(errc::propolis_too_large,
                fmt::format("the Propolis instance request is {} bytes, over propolis-server's limit of {} bytes",
                            body.size(), kMaxRequestBytes),
                "the cloud-init seed travels inside it (base64): make the user-data smaller, e.g. fetch large "
                "files while provisioning instead");
  call("PUT", "/instance", &body, request_timeout_);
}

nlohmann::json PropolisClient::get_instance() {
  json j = parse_answer(call("GET", "/instance", nullptr, request_timeout_), "GET /instance", address_);
  if (!j.is_object() || !j.contains("instance")) unexpected("GET /instance", address_, "no \"instance\"");
  return j;
}

void PropolisClient::request_state(std::string_view state) {
  const std::string body = json(std::string(state)).dump();
  call("PUT", "/instance/state", &body, request_timeout_);
}

PropolisClient::MonitorResult PropolisClient::monitor(std::uint64_t gen, milliseconds timeout) {
  const std::string body = json{{"gen", gen}}.dump();
  const char* what = "GET /instance/state-monitor";
  json j = parse_answer(call("GET", "/instance/state-monitor", &body, timeout), what, address_);
  if (!j.is_object() || !j.contains("state") || !j["state"].is_string() || !j.contains("gen") ||
      !j["gen"].is_number_unsigned())
    unexpected(what, address_, one_line(j.dump(), 120));
  return {j["state"].get<std::string>(), j["gen"].get<std::uint64_t>()};
}

PropolisClient::MonitorResult PropolisClient::wait_for_state(const std::vector<std::string>& wanted,
                                                             std::chrono::steady_clock::time_point deadline,
                                                             std::uint64_t from_gen) {
  auto is_wanted = [&](const std::string& s) { return std::find(wanted.begin(), wanted.end(), s) != wanted.end(); };
  const std::string wanted_text = fmt::format("{}", fmt::join(wanted, " or "));
  std::uint64_t gen = from_gen;  // gen 0 answers at once with the current state
  std::string last = "unknown";
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    MonitorResult r;
    try {
      if (left <= milliseconds::zero()) throw Error(errc::propolis_timeout, "deadline passed");
      r = monitor(gen, left);
    } catch (const Error& e) {
      if (e.code() != errc::propolis_timeout) throw;
      throw Error(errc::propolis_timeout,
                  fmt::format("the Propolis instance at {} did not become {} in time (last state: {})", address_,
                              wanted_text, last),
                  "the guest may be slow to start or stop; wait longer or look at its serial console");
    }
    if (is_wanted(r.state)) return r;
    if (r.state == "Failed" || r.state == "Destroyed")
      throw Error(errc::vm_invalid_state,
                  fmt::format("the Propolis instance at {} is {} while waiting for it to become {}", address_,
                              r.state, wanted_text),
                  "look at the serial console and the propolis-server log for the reason");
    last = r.state;
    gen = r.gen + 1;  // the next change of state
  }
}

PropolisClient::SerialHistory PropolisClient::serial_history(std::optional<std::uint64_t> most_recent) {
  // Exactly one of from_start/most_recent must be given; max_bytes lifts the
  // server's 16 KiB default. The server keeps the most recent 1 MiB.
  const std::uint64_t count = most_recent.value_or(kMaxRequestBytes);
  const std::string target = fmt::format("/instance/serial/history?most_recent={0}&max_bytes={0}", count);
  const char* what = "GET /instance/serial/history";
  json j = parse_answer(call("GET", target, nullptr, request_timeout_), what, address_);
  if (!j.is_object() || !j.contains("data") || !j["data"].is_array()) unexpected(what, address_, "no \"data\" array");
  if (!j.contains("last_byte_offset") || !j["last_byte_offset"].is_number_unsigned()) {
    unexpected(what, address_, "no \"last_byte_offset\"");
  }
  SerialHistory history;
  history.data.reserve(j["data"].size());
  // The bytes come as a JSON array of integers: the output need not be UTF-8.
  for (const auto& b : j["data"]) {
    if (!b.is_number_unsigned() || b.get<std::uint64_t>() > 255) unexpected(what, address_, "a value that is no byte");
    history.data += static_cast<char>(b.get<std::uint8_t>());
  }
  history.last_byte_offset = j["last_byte_offset"].get<std::uint64_t>();
  return history;
}

std::string PropolisClient::serial_url(std::optional<std::uint64_t> most_recent) const {
  std::string url = "ws://" + address_ + "/instance/serial";
  if (most_recent) url += fmt::format("?most_recent={}", *most_recent);
  return url;
}

std::string PropolisClient::serial_url_from(std::uint64_t from_start) const {
  return fmt::format("ws://{}/instance/serial?from_start={}", address_, from_start);
}

}  // namespace vm_manager::propolis
