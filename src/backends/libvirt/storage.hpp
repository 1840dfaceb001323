// A VM's volumes in a libvirt storage pool: the base image, uploaded once per
// host and keyed by its sha256; the VM's overlay, seed, kernel and initrd;
// and the file virtlogd appends its serial console to.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "backends/libvirt/connection.hpp"
#include "core/logger.hpp"

namespace vm_manager::libvirt {

// Volume names. The base's marker is made only after its upload finished: a
// base without one is a dead upload.
std::string base_volume(std::string_view sha256);
std::string base_marker_volume(std::string_view sha256);
std::string overlay_volume(std::string_view vm_id);
std::string seed_volume(std::string_view vm_id);
std::string kernel_volume(std::string_view vm_id);
std::string initrd_volume(std::string_view vm_id);
std::string console_log_volume(std::string_view vm_id);

// What `qemu-img info` says of an image: its format and virtual size.
struct ImageFormat {
  std::string format;
  std::uint64_t virtual_size = 0;
};
// Raises spec::invalid when qemu-img cannot read it.
ImageFormat image_format(const std::filesystem::path& image);

class Storage {
 public:
  // The pool `name` on the connection. Raises libvirt::failed, with how to
  // make one, when it does not exist or is not active.
  Storage(std::shared_ptr<Connection> connection, std::string name);

  const std::string& name() const { return name_; }
  // The pool's folder on its host.
  const std::string& path() const { return path_; }

  // The volume, or null when there is none.
  Vol find(const std::string& volume) const;
  // Deletes the volume if it exists.
  void remove(const std::string& volume) const;
  // Creates a volume from its XML (domain_xml.hpp's volume_xml).
  Vol create(const std::string& volume_xml, const std::string& what) const;
  // A raw volume `volume` holding the file's bytes (virStorageVolUpload).
  // Deletes the volume again when the upload fails.
  Vol upload(const std::string& volume, const std::filesystem::path& file) const;
  // The volume's path on its host.
  std::string volume_path(virStorageVolPtr volume) const;
  // The volume's bytes (virStorageVolDownload).
  std::string download(const std::string& volume) const;

  // The base volume for `image` (sha256 `sha`): there already when it has
  // its marker; else a dead upload is deleted and the image uploaded, then
  // the marker made. `lock_dir`: where the per-host+image lock file lives,
  // so two vmctl processes upload an image once. Returns its path.
  std::string ensure_base(const std::filesystem::path& image, const std::string& sha,
                          const std::filesystem::path& lock_dir, const Logger& log) const;

 private:
  std::shared_ptr<Connection> connection_;
  std::string name_;
  Pool pool_;
  std::string path_;
};

}  // namespace vm_manager::libvirt
