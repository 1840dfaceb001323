#include "net/tls_failure.hpp"

#include <fmt/format.h>

namespace vm_manager::net {
namespace {

// OpenSSL's verify results (x509_vfy.h), as stable as its ABI; named here so
// that net/ needs no OpenSSL header.
constexpr long kUnableToGetIssuerCert = 2;
constexpr long kCertNotYetValid = 9;
constexpr long kCertHasExpired = 10;
constexpr long kDepthZeroSelfSigned = 18;
constexpr long kSelfSignedInChain = 19;
constexpr long kUnableToGetIssuerLocally = 20;
constexpr long kUnableToVerifyLeaf = 21;
constexpr long kCertUntrusted = 27;
constexpr long kHostnameMismatch = 62;
constexpr long kIpAddressMismatch = 64;

bool is_tls_code(CURLcode rc) {
  switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:  // also CURLE_SSL_CACERT, its old name
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
      return true;
    default:
      return false;
  }
}

// libcurl checks the name itself after OpenSSL accepted the chain, so the
// verify result does not always say it; its words do, with every backend.
bool names_a_host_mismatch(std::string_view error) {
  return error.find("does not match target host") != std::string_view::npos ||
         error.find("subject name matches target host") != std::string_view::npos;
}

}  // namespace

std::string host_and_port(std::string_view url) {
  const std::size_t scheme_end = url.find("://");
  const std::string_view scheme = scheme_end == std::string_view::npos ? "" : url.substr(0, scheme_end);
  std::string_view rest = scheme_end == std::string_view::npos ? url : url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const std::size_t at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  const std::size_t bracket = rest.rfind(']');
  const std::size_t colon = rest.rfind(':');
  const bool has_port = colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket);
  if (has_port) return std::string(rest);
  return fmt::format("{}:{}", rest, scheme == "http" ? 80 : 443);
}

TlsDiagnosis diagnose_tls(CURLcode rc, long verify_result, std::string_view curl_error, std::string_view url) {
  if (!is_tls_code(rc)) return {};
  const std::string host = host_and_port(url);
  // `what` words the failure, with {0} where the host goes.
  auto said = [&](TransferFailure failure, fmt::format_string<const std::string&> what) {
    return TlsDiagnosis{failure, fmt::format("{} ({})", fmt::format(what, host), curl_error)};
  };
  if (rc == CURLE_SSL_CACERT_BADFILE) {
    return said(TransferFailure::tls_failed, "cannot load the CA certificates to check {0} with");
  }
  if (rc != CURLE_PEER_FAILED_VERIFICATION) {
    return said(TransferFailure::tls_failed, "the TLS handshake with {0} failed");
  }
  if (verify_result == kHostnameMismatch || verify_result == kIpAddressMismatch || names_a_host_mismatch(curl_error)) {
    return said(TransferFailure::tls_wrong_host, "the TLS certificate of {0} is made out for another host name");
  }
  switch (verify_result) {
    case kCertHasExpired:
      return said(TransferFailure::tls_expired, "the TLS certificate of {0} has expired");
    case kCertNotYetValid:
      return said(TransferFailure::tls_expired,
                  "the TLS certificate of {0} is not valid yet (check this machine's clock)");
    case kUnableToGetIssuerCert:
    case kDepthZeroSelfSigned:
    case kSelfSignedInChain:
    case kUnableToGetIssuerLocally:
    case kUnableToVerifyLeaf:
    case kCertUntrusted:
      return said(TransferFailure::tls_untrusted,
                  "the TLS certificate of {0} is not signed by a certificate authority this machine trusts");
    default:
      return said(TransferFailure::tls_failed, "cannot verify the TLS certificate of {0}");
  }
}

}  // namespace vm_manager::net
