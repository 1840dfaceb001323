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
#include "vm_manager/vmfile.hpp"
#include "vmfile/kdl.hpp"

namespace vm_manager::vmfile {

// The definitions are the public ones (vm_manager/vmfile.hpp).
using VmDefinition = vm_manager::VmDefinition;
using VmFile = vm_manager::VmFile;
using LoadOptions = VmFileOptions;

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
