#include "cloudinit/libisofs.hpp"

#include <string>

#include <fmt/format.h>

#include "os/shared_library.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::cloudinit {
namespace {

[[noreturn]] void unavailable(const std::string& why) {
  throw Error(errc::seed_unavailable,
              fmt::format("cannot write a cloud-init seed: cannot load libisofs ({})", why),
              "install libisofs6 (apt-get install libisofs6): cloud-init seeds are written with it");
}

LibIsofs load_default() { return load_libisofs(kLibIsofsSoname); }

}  // namespace

LibIsofs load_libisofs(const char* soname) {
  const os::SharedLibrary library(soname, unavailable);
  LibIsofs api;
  library.resolve("iso_error_to_msg", api.iso_error_to_msg);
  library.resolve("iso_image_add_new_file", api.iso_image_add_new_file);
  library.resolve("iso_image_create_burn_source", api.iso_image_create_burn_source);
  library.resolve("iso_image_get_root", api.iso_image_get_root);
  library.resolve("iso_image_new", api.iso_image_new);
  library.resolve("iso_image_unref", api.iso_image_unref);
  library.resolve("iso_init_with_flag", api.iso_init_with_flag);
  library.resolve("iso_memory_stream_new", api.iso_memory_stream_new);
  library.resolve("iso_node_set_gid", api.iso_node_set_gid);
  library.resolve("iso_node_set_permissions", api.iso_node_set_permissions);
  library.resolve("iso_node_set_uid", api.iso_node_set_uid);
  library.resolve("iso_stream_unref", api.iso_stream_unref);
  library.resolve("iso_write_opts_free", api.iso_write_opts_free);
  library.resolve("iso_write_opts_new", api.iso_write_opts_new);
  library.resolve("iso_write_opts_set_iso_level", api.iso_write_opts_set_iso_level);
  library.resolve("iso_write_opts_set_joliet", api.iso_write_opts_set_joliet);
  library.resolve("iso_write_opts_set_relaxed_vol_atts", api.iso_write_opts_set_relaxed_vol_atts);
  library.resolve("iso_write_opts_set_rockridge", api.iso_write_opts_set_rockridge);
  return api;
}

const LibIsofs& libisofs() {
  static os::LazyLibrary<LibIsofs> library(load_default);
  return library.get();
}

}  // namespace vm_manager::cloudinit
