#include "support/test_ca.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "support/process.hpp"

namespace vmctl::test {
namespace fs = std::filesystem;

namespace {

// `openssl ca` keeps a little database; this is the least it needs. Its
// -startdate/-enddate make the expired certificate (OpenSSL 3.0's x509 has no
// way to set the start date).
constexpr const char* kCaConfig = R"([ca]
default_ca = test_ca
[test_ca]
database = index.txt
new_certs_dir = issued
serial = serial
default_md = sha256
policy = any
unique_subject = no
[any]
commonName = supplied
)";

}  // namespace

TestCa::TestCa(const fs::path& dir) : dir_(dir) {
  fs::create_directories(dir_ / "issued");
  std::ofstream(dir_ / "ca.cnf") << kCaConfig;
  std::ofstream(dir_ / "index.txt");
  std::ofstream(dir_ / "serial") << "1000\n";
  if (!openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                "ca.key", "-out", "ca.pem", "-days", "7", "-subj", "/CN=vmctl test CA", "-addext",
                "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"})) {
    error_ = "cannot make the test CA with the openssl tool (make deps installs Debian's openssl package): " + error_;
  }
}

bool TestCa::openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.cwd = dir_.string();
  ProcessResult r = run_process(argv, options);
  if (r.exit_code == 0) return true;
  error_ = "openssl " + args.at(0) + " failed (exit " + std::to_string(r.exit_code) + "): " + r.err;
  return false;
}

ServerCertificate TestCa::issue(const std::string& name, const std::vector<std::string>& ips, Validity validity) {
  ServerCertificate out{dir_ / (name + ".pem"), dir_ / (name + ".key")};
  std::string san = "subjectAltName=";
  for (std::size_t i = 0; i < ips.size(); ++i) san += (i > 0 ? ",IP:" : "IP:") + ips[i];
  std::ofstream(dir_ / (name + ".ext")) << san << "\n";
  std::vector<std::string> sign{"ca", "-batch", "-config", "ca.cnf", "-cert", "ca.pem", "-keyfile", "ca.key",
                                "-in", name + ".csr", "-out", name + ".pem", "-extfile", name + ".ext", "-notext"};
  if (validity == Validity::expired) {
    sign.insert(sign.end(), {"-startdate", "20200101000000Z", "-enddate", "20200131000000Z"});
  } else {
    sign.insert(sign.end(), {"-days", "7"});
  }
  const bool made = error_.empty() &&
                    openssl({"req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                             "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=vmctl test " + name}) &&
                    openssl(sign);
  if (!made) ADD_FAILURE() << "cannot issue the test certificate " << name << ": " << error_;
  return out;
}

}  // namespace vmctl::test
