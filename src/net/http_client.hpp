// One HTTP client for the library (image downloads, OCI registries,
// propolis-server), on libcurl. libcurl itself is loaded on the first
// request (libcurl.cpp), so programs that never talk HTTP never load it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vm_manager::net {

struct Timeouts {
  std::chrono::milliseconds connect{30'000};  // at least 1 ms is used
  std::chrono::milliseconds total{0};         // the whole exchange; 0: no limit
  // Abort when fewer than low_speed_bytes arrive per second for
  // low_speed_time (0: never): a stalled transfer ends, a slow one does not.
  long low_speed_bytes = 0;
  std::chrono::seconds low_speed_time{0};
};

// Gets each piece of a 2xx response's body as it arrives; returning false
// aborts the transfer (TransferFailure::aborted).
using BodySink = std::function<bool(std::string_view piece)>;
// Gets the bytes of the body received so far and its announced size (0 while
// unknown), from time to time during the transfer.
using ProgressCallback = std::function<void(std::uint64_t received, std::uint64_t expected)>;
// Gets the status and headers (lower-case names) of a 2xx answer once they
// are complete, before any of its body reaches the sink; returning false
// aborts the transfer (TransferFailure::aborted).
using AnswerCheck = std::function<bool(long status, const std::map<std::string, std::string>& headers)>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // http:// or https:// only, also for redirects
  // "Name: value" lines. "Name:" removes a header libcurl would add (e.g.
  // "Expect:"). Never logged. libcurl drops Authorization on redirects to
  // another host, port or scheme (tests/image/oci_registry_test.cpp checks).
  std::vector<std::string> headers;
  std::optional<std::string> body;  // sent whatever the method (a GET may carry one)
  Timeouts timeouts;
  long max_redirects = 0;  // redirects followed; 0: a redirect is the answer
  // Where a 2xx body goes instead of HttpResponse::body. Other answers' bodies
  // (error pages, error documents) always go to HttpResponse::body.
  BodySink sink;
  AnswerCheck on_answer;  // e.g. to tell a 206 from a 200 before the body comes
  ProgressCallback progress;
  // A body kept in memory longer than this fails with too_large.
  std::size_t max_body = std::numeric_limits<std::size_t>::max();
  // A PEM file of CA certificates that https servers' certificates are checked
  // against INSTEAD of the system's store (CURLOPT_CAINFO); empty: the system's.
  std::string ca_file;
};

// Why no (complete) answer came.
enum class TransferFailure {
  none,
  cannot_connect,  // refused or unreachable
  cannot_resolve,  // the host name does not resolve
  timed_out,       // a timeout of the request's Timeouts passed
  interrupted,     // the connection broke or closed before the answer was complete
  aborted,         // the sink or the answer check returned false
  too_large,       // the body went over max_body
  // The server's TLS certificate was refused; HttpResponse::error then says
  // why in plain words and names the host and port.
  tls_untrusted,   // not signed by a CA of the store (or of ca_file)
  tls_expired,     // expired, or not valid yet
  tls_wrong_host,  // made out for another host name
  tls_failed,      // any other TLS failure: the handshake, an unusable ca_file…
  other,           // anything else: protocol, too many redirects…
};

// Whether `failure` is one of the tls_* ones.
inline bool is_tls(TransferFailure failure) {
  return failure == TransferFailure::tls_untrusted || failure == TransferFailure::tls_expired ||
         failure == TransferFailure::tls_wrong_host || failure == TransferFailure::tls_failed;
}

struct HttpResponse {
  TransferFailure failure = TransferFailure::none;
  std::string error;  // what failed, in libcurl's words; empty when nothing did
  long status = 0;    // of the last answer (after redirects); 0 when none came
  std::map<std::string, std::string> headers;  // of the last answer; lower-case names
  std::string body;   // unless the sink took it

  bool ok() const { return failure == TransferFailure::none; }
  bool success() const { return ok() && status >= 200 && status < 300; }
};

// Sends `request` and waits for its answer. Transfer failures are reported
// in the response, not raised: each caller knows what they mean to its user.
// Raises Error(net::unavailable) when libcurl cannot be loaded.
HttpResponse perform(const HttpRequest& request);

// "vmctl/<version>": the User-Agent of every request.
std::string_view user_agent();

}  // namespace vm_manager::net
