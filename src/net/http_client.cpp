#include "net/http_client.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>
#include <memory>

#include "net/libcurl.hpp"
#include "net/tls_failure.hpp"
#include "util/strings.hpp"
#include "vm_manager/version.hpp"

namespace vm_manager::net {
namespace {
using util::lower;
using util::trim;

using std::chrono::milliseconds;

// "HTTP/1.1 206 Partial Content" -> 206; 0 when there is no number.
long status_of(std::string_view status_line) {
  const std::size_t space = status_line.find(' ');
  long status = 0;
  if (space != std::string_view::npos) {
    std::from_chars(status_line.data() + space + 1, status_line.data() + status_line.size(), status);
  }
  return status;
}

// What libcurl's callbacks work on during one perform().
struct Exchange {
  Exchange(const HttpRequest& req, HttpResponse& res) : request(req), response(res) {}
  const HttpRequest& request;
  HttpResponse& response;
  long status = 0;  // of the status line last seen: where the body goes
  bool headers_done = false;  // of that answer (trailers may follow its body)
  bool aborted = false;
  bool too_large = false;
  std::exception_ptr thrown;  // by the sink or the progress callback, raised after perform()
};

// Callbacks must not throw through libcurl's C frames: the exception is kept
// and the transfer aborted; perform() raises it afterwards.
template <typename F>
bool guarded(Exchange& x, F&& body) {
  try {
    return body();
  } catch (...) {
    x.thrown = std::current_exception();
    return false;
  }
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto& x = *static_cast<Exchange*>(user);
  const size_t bytes = size * count;
  const std::string_view piece(data, bytes);
  if (x.request.sink && x.status >= 200 && x.status < 300) {
    if (!guarded(x, [&] { return x.request.sink(piece); })) {
      x.aborted = true;
      return 0;  // CURLE_WRITE_ERROR
    }
    return bytes;
  }
  if (x.response.body.size() + bytes > x.request.max_body) {
    x.too_large = true;
    return 0;
  }
  x.response.body.append(piece);
  return bytes;
}

// Every answer's header lines come here, those of redirects and of
// "100 Continue" too: a status line starts the headers over.
size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto& x = *static_cast<Exchange*>(user);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    x.response.headers.clear();
    x.status = status_of(line);
    x.headers_done = false;
  } else if (trim(line).empty()) {
    if (x.headers_done) return size * count;  // the end of trailers, not of headers
    x.headers_done = true;
    if (x.request.on_answer && x.status >= 200 && x.status < 300 &&
        !guarded(x, [&] { return x.request.on_answer(x.status, x.response.headers); })) {
      x.aborted = true;
      return 0;  // CURLE_WRITE_ERROR
    }
  } else if (const std::size_t colon = line.find(':'); colon != std::string_view::npos) {
    x.response.headers[lower(trim(line.substr(0, colon)))] = std::string(trim(line.substr(colon + 1)));
  }
  return size * count;
}

int on_progress(void* user, curl_off_t expected, curl_off_t received, curl_off_t, curl_off_t) {
  auto& x = *static_cast<Exchange*>(user);
  const bool go_on = guarded(x, [&] {
    x.request.progress(static_cast<std::uint64_t>(std::max<curl_off_t>(received, 0)),
                       static_cast<std::uint64_t>(std::max<curl_off_t>(expected, 0)));
    return true;
  });
  return go_on ? 0 : 1;  // non-zero aborts (CURLE_ABORTED_BY_CALLBACK)
}

TransferFailure failure_of(CURLcode rc, const Exchange& x) {
  switch (rc) {
    case CURLE_OK: return TransferFailure::none;
    case CURLE_COULDNT_CONNECT: return TransferFailure::cannot_connect;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return TransferFailure::cannot_resolve;
    case CURLE_OPERATION_TIMEDOUT: return TransferFailure::timed_out;
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING: return TransferFailure::interrupted;
    case CURLE_WRITE_ERROR:
      if (x.too_large) return TransferFailure::too_large;
      return x.aborted ? TransferFailure::aborted : TransferFailure::other;
    case CURLE_ABORTED_BY_CALLBACK: return TransferFailure::aborted;
    default: return TransferFailure::other;
  }
}

struct EasyCleanup {
  const LibCurl* api;
  void operator()(CURL* handle) const { api->easy_cleanup(handle); }
};
struct SlistCleanup {
  const LibCurl* api;
  void operator()(curl_slist* list) const { api->slist_free_all(list); }
};

HttpResponse failed(std::string error) {
  HttpResponse response;
  response.failure = TransferFailure::other;
  response.error = std::move(error);
  return response;
}

// The method libcurl would send without CURLOPT_CUSTOMREQUEST.
std::string_view implied_method(const HttpRequest& request) { return request.body ? "POST" : "GET"; }

// A TLS failure's words say which of its kinds it is, and where.
void explain_tls(const LibCurl& api, CURL* h, CURLcode rc, HttpResponse& response) {
  long verify_result = 0;
  api.easy_getinfo(h, CURLINFO_SSL_VERIFYRESULT, &verify_result);
  const char* url = nullptr;  // the one that failed, after redirects
  api.easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &url);
  TlsDiagnosis tls = diagnose_tls(rc, verify_result, response.error, url != nullptr ? url : "");
  if (tls.failure == TransferFailure::none) return;
  response.failure = tls.failure;
  response.error = std::move(tls.message);
}

}  // namespace

std::string_view user_agent() { return "vmctl/" VM_MANAGER_VERSION; }

HttpResponse perform(const HttpRequest& request) {
  const LibCurl& api = libcurl();
  std::unique_ptr<CURL, EasyCleanup> easy(api.easy_init(), EasyCleanup{&api});
  if (!easy) return failed("cannot initialise libcurl");
  std::unique_ptr<curl_slist, SlistCleanup> headers(nullptr, SlistCleanup{&api});
  for (const auto& line : request.headers) {
    curl_slist* grown = api.slist_append(headers.get(), line.c_str());
    if (grown == nullptr) return failed("cannot build the request headers (out of memory)");
    (void)headers.release();
    headers.reset(grown);
  }

  HttpResponse response;
  Exchange x{request, response};
  char error[CURL_ERROR_SIZE] = {};
  CURL* h = easy.get();
  auto set = api.easy_setopt;  // variadic: every value below has the type libcurl reads
  set(h, CURLOPT_URL, request.url.c_str());
  set(h, CURLOPT_ERRORBUFFER, error);
  set(h, CURLOPT_PROTOCOLS_STR, "http,https");
  set(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  set(h, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for timeouts: we are a library, in threads
  set(h, CURLOPT_USERAGENT, user_agent().data());
  if (headers) set(h, CURLOPT_HTTPHEADER, headers.get());
  if (request.method == "HEAD") {
    set(h, CURLOPT_NOBODY, 1L);
  } else if (request.method != implied_method(request)) {
    set(h, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (request.body) {
    set(h, CURLOPT_POSTFIELDS, request.body->data());
    set(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body->size()));
  }
  if (request.max_redirects > 0) {
    set(h, CURLOPT_FOLLOWLOCATION, 1L);
    set(h, CURLOPT_MAXREDIRS, request.max_redirects);
  }
  // libcurl reads 0 as "its default" (300 s) for connecting: never hand it one.
  const milliseconds connect = std::max(request.timeouts.connect, milliseconds(1));
  set(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect.count()));
  if (request.timeouts.total > milliseconds::zero()) {
    set(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeouts.total.count()));
  }
  if (request.timeouts.low_speed_time > std::chrono::seconds::zero()) {
    set(h, CURLOPT_LOW_SPEED_LIMIT, request.timeouts.low_speed_bytes);
    set(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(request.timeouts.low_speed_time.count()));
  }
  if (!request.ca_file.empty()) set(h, CURLOPT_CAINFO, request.ca_file.c_str());
  set(h, CURLOPT_WRITEFUNCTION, &on_body);
  set(h, CURLOPT_WRITEDATA, &x);
  set(h, CURLOPT_HEADERFUNCTION, &on_header);
  set(h, CURLOPT_HEADERDATA, &x);
  if (request.progress) {
    set(h, CURLOPT_XFERINFOFUNCTION, &on_progress);
    set(h, CURLOPT_XFERINFODATA, &x);
    set(h, CURLOPT_NOPROGRESS, 0L);
  }

  const CURLcode rc = api.easy_perform(h);
  if (x.thrown) std::rethrow_exception(x.thrown);
  api.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  response.failure = failure_of(rc, x);
  if (rc != CURLE_OK) response.error = error[0] != '\0' ? error : api.easy_strerror(rc);
  if (rc != CURLE_OK) explain_tls(api, h, rc, response);
  return response;
}

}  // namespace vm_manager::net
