// VMFile.kdl: the declarative description of a project's VMs, read with the
// KDL parser and checked strictly against the schema (docs/vmfile.md).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "provision/provisioner.hpp"
#include "vm_manager/error.hpp"
#include "vm_manager/types.hpp"
#include "vmfile/kdl.hpp"

namespace vm_manager::vmfile {

// One `vm "<name>" { … }` node, translated.
struct VmDefinition {
  kdl::Position position;  // of the vm node
  // The spec to create the VM from. For `image "<path>"` spec.image_path is
  // the resolved absolute path; for `image-url` it is empty and image_url
  // says what to pull (into the image cache) first.
  VmSpec spec;
  std::optional<std::string> image_url;     // http(s)://…, oci://… (or a path: pulled like one)
  std::optional<std::string> image_sha256;  // lower-case hex
  std::vector<provision::Step> provisioners;  // paths resolved
};

struct VmFile {
  std::filesystem::path path;  // absolute
  int kdl_version = 2;
  std::vector<VmDefinition> vms;  // in file order

  // nullptr when no VM has that name.
  const VmDefinition* find(std::string_view name) const;
};

// One thing wrong with a VMFile, at a place in it.
struct Problem {
  kdl::Position position;
  std::string message;  // one line, without the location
  std::string help;     // may be empty; a did-you-mean goes here
};

// Raised with every problem found, not just the first. message() is the
// first problem as "<file>:<line>:<column>: <message>" plus "(and N more)";
// code() is errc::vmfile_invalid.
class ValidationError : public Error {
 public:
  ValidationError(std::filesystem::path file, std::vector<Problem> problems);
  const std::filesystem::path& file() const noexcept { return file_; }
  const std::vector<Problem>& problems() const noexcept { return problems_; }
  // The problems after the first, each as its own "error[…]: file:line:column: …"
  // line with its help, as compilers list several errors.
  std::string details() const override;

 private:
  std::filesystem::path file_;
  std::vector<Problem> problems_;
};

struct LoadOptions {
  // Where `~` expands to (vmctl passes HOME); unset, a `~/` path is an error.
  std::optional<std::filesystem::path> home;
};

// Reads, parses and validates a VMFile. Relative paths inside resolve
// against the file's folder; `~/` expands to the home folder; files the
// VMFile names (image, kernel, initrd, ssh-key, user-data, private-key,
// provision script and source) must exist.
// Raises vmfile::not_found (no such file), kdl::ParseError
// (vmfile::syntax) or ValidationError (vmfile::invalid).
VmFile load(const std::filesystem::path& path, const LoadOptions& options = {});

// The same for text already in memory; `path` names the file in messages
// and its folder anchors relative paths.
VmFile parse(std::string_view text, const std::filesystem::path& path, const LoadOptions& options = {});

// "VMFile.kdl" in `folder` — the default when no --file is given.
std::filesystem::path default_path(const std::filesystem::path& folder);

}  // namespace vm_manager::vmfile
