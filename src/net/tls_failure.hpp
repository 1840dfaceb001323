// What a failed TLS handshake means, in words a user can act on: libcurl
// reports an untrusted, an expired and a wrongly named certificate with the
// same code (CURLE_PEER_FAILED_VERIFICATION), so the verify result and the
// error text tell them apart.
#pragma once

#include <string>
#include <string_view>

#include <curl/curl.h>

#include "net/http_client.hpp"

namespace vm_manager::net {

struct TlsDiagnosis {
  TransferFailure failure = TransferFailure::none;  // none: `rc` is not about TLS
  std::string message;  // names the host and port, and ends with libcurl's words
};

// `verify_result` is CURLINFO_SSL_VERIFYRESULT (OpenSSL's X509_V_* code with
// libcurl's OpenSSL backend), `url` the one that failed (after redirects).
TlsDiagnosis diagnose_tls(CURLcode rc, long verify_result, std::string_view curl_error, std::string_view url);

// "host:port" of an http(s) URL, the port implied by the scheme when absent.
std::string host_and_port(std::string_view url);

}  // namespace vm_manager::net
