// A certificate authority made for one test, with the openssl command line
// tool (Debian's openssl package): a CA certificate, and server certificates
// it signs for 127.0.0.x addresses, current or long expired.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace vmctl::test {

struct ServerCertificate {
  std::filesystem::path cert;  // PEM
  std::filesystem::path key;   // PEM, unencrypted
};

enum class Validity { current, expired };

class TestCa {
 public:
  // Makes the CA in `dir` (created). On failure error() says why, naming the
  // package to install; certificates cannot be issued then.
  explicit TestCa(const std::filesystem::path& dir);

  const std::string& error() const { return error_; }
  // The CA certificate: what VMCTL_CA_FILE names to trust the servers.
  std::filesystem::path cert() const { return dir_ / "ca.pem"; }

  // A server certificate for these IP addresses (its subjectAltName),
  // valid for a week from now, or expired: valid only during January 2020.
  // `name` names its files. Fails the test when openssl fails.
  ServerCertificate issue(const std::string& name, const std::vector<std::string>& ips,
                          Validity validity = Validity::current);

 private:
  bool openssl(const std::vector<std::string>& args);

  std::filesystem::path dir_;
  std::string error_;
};

}  // namespace vmctl::test
