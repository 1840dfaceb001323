// libisofs's functions, resolved from libisofs.so.6 when the first seed is
// written (see os/shared_library.hpp for why it is not linked). Internal to
// src/cloudinit/.
#pragma once

#include <cstdint>  // libisofs.h uses its types without including it

// We read libisofs's image stream ourselves instead of handing it to libburn;
// this macro makes libisofs.h declare the struct burn_source it hands out.
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>

namespace vm_manager::cloudinit {

// The functions seed_iso.cpp uses, each under its own name, with the
// prototype of libisofs.h. Types and constants come from the header as usual.
struct LibIsofs {
  decltype(&::iso_error_to_msg) iso_error_to_msg = nullptr;
  decltype(&::iso_image_add_new_file) iso_image_add_new_file = nullptr;
  decltype(&::iso_image_create_burn_source) iso_image_create_burn_source = nullptr;
  decltype(&::iso_image_get_root) iso_image_get_root = nullptr;
  decltype(&::iso_image_new) iso_image_new = nullptr;
  decltype(&::iso_image_unref) iso_image_unref = nullptr;
  decltype(&::iso_init_with_flag) iso_init_with_flag = nullptr;
  decltype(&::iso_memory_stream_new) iso_memory_stream_new = nullptr;
  decltype(&::iso_node_set_gid) iso_node_set_gid = nullptr;
  decltype(&::iso_node_set_permissions) iso_node_set_permissions = nullptr;
  decltype(&::iso_node_set_uid) iso_node_set_uid = nullptr;
  decltype(&::iso_stream_unref) iso_stream_unref = nullptr;
  decltype(&::iso_write_opts_free) iso_write_opts_free = nullptr;
  decltype(&::iso_write_opts_new) iso_write_opts_new = nullptr;
  decltype(&::iso_write_opts_set_iso_level) iso_write_opts_set_iso_level = nullptr;
  decltype(&::iso_write_opts_set_joliet) iso_write_opts_set_joliet = nullptr;
  decltype(&::iso_write_opts_set_relaxed_vol_atts) iso_write_opts_set_relaxed_vol_atts = nullptr;
  decltype(&::iso_write_opts_set_rockridge) iso_write_opts_set_rockridge = nullptr;
};

inline constexpr const char* kLibIsofsSoname = "libisofs.so.6";

// libisofs.so.6, loaded on the first call (once, whichever thread comes
// first); later calls return the same table. Raises
// Error(cloudinit::unavailable), on this and every later call, when it cannot
// be loaded.
const LibIsofs& libisofs();

// Loads `soname` and resolves the table without caching it: libisofs()'s
// work, apart for tests. Raises Error(cloudinit::unavailable).
LibIsofs load_libisofs(const char* soname);

}  // namespace vm_manager::cloudinit
