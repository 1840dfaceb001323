#include <filesystem>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "vm_manager/error.hpp"
#include "vm_manager/names.hpp"
#include "vmctl/commands.hpp"
#include "vmctl/guest_access.hpp"

namespace vmctl {
using namespace vm_manager;
namespace fs = std::filesystem;
namespace {

// "NAME:/path" (or "NAME:relative/to/home") names a file in a VM; anything
// else is a local path. Write "./a:b" for a local file with a colon.
struct Location {
  std::string vm;  // empty: local
  std::string path;
};

Location parse_location(const std::string& text) {
  auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0) return {"", text};
  std::string vm = text.substr(0, colon);
  if (!is_valid_vm_name(vm)) return {"", text};
  std::string path = text.substr(colon + 1);
  if (path.empty()) {
    throw Error(errc::spec_invalid, fmt::format("'{}' names no file in VM '{}'", text, vm),
                fmt::format("write {}:/path/to/file", vm));
  }
  return {vm, path};
}

std::string file_name_of(const std::string& path) { return fs::path(path).filename().string(); }

// Copying into a folder keeps the source's file name, as cp does.
std::string remote_destination(const std::string& dst, const std::string& src) {
  return dst.back() == '/' ? dst + file_name_of(src) : dst;
}
fs::path local_destination(const std::string& dst, const std::string& src) {
  fs::path path(dst);
  return dst.back() == '/' || fs::is_directory(path) ? path / file_name_of(src) : path;
}

void warn_skipped(const FolderCopy& copy) {
  for (const std::string& entry : copy.skipped) {
    spdlog::warn("skipped {}: not a file, folder or symlink (SFTP cannot copy it)", entry);
  }
}

void run_cp(Context& ctx, const std::string& source, const std::string& destination, bool recursive) {
  Location from = parse_location(source);
  Location to = parse_location(destination);
  if (from.vm.empty() == to.vm.empty()) {
    throw Error(errc::spec_invalid,
                from.vm.empty() ? "neither side of cp names a VM" : "both sides of cp name a VM",
                "write NAME:/path for the VM's side and a local path for the other");
  }
  const std::string& vm = from.vm.empty() ? to.vm : from.vm;
  if (recursive) {
    // Where the tree goes (into an existing folder, or as the destination)
    // is decided next to the destination, as cp -r does.
    warn_skipped(to.vm.empty() ? ctx.manager().download_folder(vm, from.path, to.path)
                               : ctx.manager().upload_folder(vm, from.path, to.path));
  } else if (to.vm.empty()) {
    ctx.manager().download(vm, from.path, local_destination(to.path, from.path));
  } else {
    if (!fs::is_regular_file(from.path)) {
      throw Error(errc::spec_invalid, fmt::format("{} is not a file", from.path),
                  fs::is_directory(from.path) ? "add -r to copy a folder" : "cp copies one file at a time");
    }
    ctx.manager().upload(vm, from.path, remote_destination(to.path, from.path));
  }
}

}  // namespace

void add_cp_command(CLI::App& app, Context& ctx) {
  auto source = std::make_shared<std::string>();
  auto destination = std::make_shared<std::string>();
  auto recursive = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("cp", "Copy a file into or out of a VM (NAME:/path names the VM's side)");
  cmd->add_option("source", *source, "Local path or NAME:/path")->required();
  cmd->add_option("destination", *destination, "Local path or NAME:/path")->required();
  cmd->add_flag("-r,--recursive", *recursive,
                "Copy a folder and everything in it, keeping modes; symlinks are copied as symlinks");
  cmd->callback([&ctx, source, destination, recursive] { run_cp(ctx, *source, *destination, *recursive); });
}

}  // namespace vmctl
