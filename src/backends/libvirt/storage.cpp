#include "backends/libvirt/storage.hpp"

#include <unistd.h>

#include <fstream>

#include <fmt/format.h>

#include "backends/libvirt/domain_xml.hpp"
#include "image/image_file_info.hpp"
#include "image/sha256.hpp"
#include "os/file_lock.hpp"
#include "util/rollback.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::libvirt {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kChunk = 256 * 1024;

void send_file(const LibVirt& lv, virStreamPtr stream, const fs::path& file, const Connection& connection) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(errc::store_io, fmt::format("cannot read {}", file.string()), "check the file's permissions");
  std::string buffer(kChunk, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    std::size_t left = static_cast<std::size_t>(in.gcount());
    const char* at = buffer.data();
    while (left > 0) {
      int sent = lv.virStreamSend(stream, at, left);
      if (sent < 0) connection.fail(fmt::format("upload {}", file.string()));
      at += sent;
      left -= static_cast<std::size_t>(sent);
    }
  }
  if (in.bad()) throw Error(errc::store_io, fmt::format("cannot read {}", file.string()), "check the disk");
}

}  // namespace

std::string base_volume(std::string_view sha256) { return fmt::format("vmctl-base-{}", sha256); }
std::string base_marker_volume(std::string_view sha256) { return fmt::format("vmctl-base-{}.complete", sha256); }
std::string overlay_volume(std::string_view id) { return fmt::format("vmctl-{}.qcow2", id); }
std::string seed_volume(std::string_view id) { return fmt::format("vmctl-{}-seed.iso", id); }
std::string kernel_volume(std::string_view id) { return fmt::format("vmctl-{}-kernel", id); }
std::string initrd_volume(std::string_view id) { return fmt::format("vmctl-{}-initrd", id); }
std::string console_log_volume(std::string_view id) { return fmt::format("vmctl-{}-console.log", id); }

ImageFormat image_format(const fs::path& image) {
  const image::ImageFileDetails details = image::image_file_details("qemu-img", image);
  return {details.format, details.virtual_size};
}

Storage::Storage(std::shared_ptr<Connection> connection, std::string name)
    : connection_(std::move(connection)), name_(std::move(name)) {
  const LibVirt& lv = api();
  std::string hint = fmt::format(
      "make a storage pool named {0} of type dir on that host, then start it and mark it autostart "
      "(virsh pool-define-as, pool-start, pool-autostart)",
      name_);
  pool_.reset(lv.virStoragePoolLookupByName(connection_->get(), name_.c_str()));
  if (!pool_) connection_->fail(fmt::format("find storage pool '{}'", name_), hint);
  if (lv.virStoragePoolIsActive(pool_.get()) != 1) {
    throw Error(errc::libvirt_failed,
                fmt::format("storage pool '{}' on {} is not active", name_, connection_->uri().text),
                fmt::format("start it: virsh -c {} pool-start {}", connection_->uri().text, name_));
  }
  char* xml = lv.virStoragePoolGetXMLDesc(pool_.get(), 0);
  if (xml == nullptr) connection_->fail(fmt::format("read storage pool '{}'", name_));
  path_ = pool_path(xml);
  free(xml);  // NOLINT: libvirt hands out malloc'd strings
  if (path_.empty()) {
    throw Error(errc::libvirt_failed, fmt::format("storage pool '{}' on {} has no folder", name_, connection_->uri().text),
                "use a storage pool of type dir, whose volumes are files in one folder");
  }
}

Vol Storage::find(const std::string& volume) const {
  virStorageVolPtr vol = api().virStorageVolLookupByName(pool_.get(), volume.c_str());
  if (vol == nullptr) {
    if (last_error_code() == VIR_ERR_NO_STORAGE_VOL) {
      api().virResetLastError();
      return nullptr;
    }
    connection_->fail(fmt::format("look up volume '{}' in pool '{}'", volume, name_));
  }
  return Vol(vol);
}

void Storage::remove(const std::string& volume) const {
  Vol vol = find(volume);
  if (vol && api().virStorageVolDelete(vol.get(), 0) < 0) {
    connection_->fail(fmt::format("delete volume '{}' in pool '{}'", volume, name_));
  }
}

Vol Storage::create(const std::string& xml, const std::string& what) const {
  virStorageVolPtr vol = api().virStorageVolCreateXML(pool_.get(), xml.c_str(), 0);
  if (vol == nullptr) connection_->fail(fmt::format("create {} in pool '{}'", what, name_));
  return Vol(vol);
}

std::string Storage::volume_path(virStorageVolPtr volume) const {
  char* path = api().virStorageVolGetPath(volume);
  if (path == nullptr) connection_->fail(fmt::format("find a volume's path in pool '{}'", name_));
  std::string out(path);
  free(path);  // NOLINT: libvirt hands out malloc'd strings
  return out;
}

Vol Storage::upload(const std::string& volume, const fs::path& file) const {
  const LibVirt& lv = api();
  std::error_code ec;
  auto size = fs::file_size(file, ec);
  if (ec) throw Error(errc::store_io, fmt::format("cannot read {}: {}", file.string(), ec.message()), "check the file");
  Vol vol = create(volume_xml(volume, size, "raw"), fmt::format("volume '{}'", volume));
  util::Rollback undo([&] { lv.virStorageVolDelete(vol.get(), 0); });
  Stream stream(lv.virStreamNew(connection_->get(), 0));
  if (!stream) connection_->fail("open a stream");
  if (lv.virStorageVolUpload(vol.get(), stream.get(), 0, size, 0) < 0) {
    connection_->fail(fmt::format("upload {} to volume '{}'", file.string(), volume));
  }
  try {
    send_file(lv, stream.get(), file, *connection_);
  } catch (...) {
    lv.virStreamAbort(stream.get());
    throw;
  }
  if (lv.virStreamFinish(stream.get()) < 0) connection_->fail(fmt::format("finish uploading to '{}'", volume));
  undo.commit();
  return vol;
}

std::string Storage::download(const std::string& volume) const {
  const LibVirt& lv = api();
  Vol vol = find(volume);
  if (!vol) return "";
  Stream stream(lv.virStreamNew(connection_->get(), 0));
  if (!stream) connection_->fail("open a stream");
  if (lv.virStorageVolDownload(vol.get(), stream.get(), 0, 0, 0) < 0) {
    connection_->fail(fmt::format("download volume '{}'", volume));
  }
  std::string data;
  std::string buffer(kChunk, '\0');
  for (;;) {
    int got = lv.virStreamRecv(stream.get(), buffer.data(), buffer.size());
    if (got < 0) {
      try {
        connection_->fail(fmt::format("download volume '{}'", volume));
      } catch (...) {
        lv.virStreamAbort(stream.get());  // after reading libvirt's error, which any call clears
        throw;
      }
    }
    if (got == 0) break;
    data.append(buffer.data(), static_cast<std::size_t>(got));
  }
  if (lv.virStreamFinish(stream.get()) < 0) connection_->fail(fmt::format("finish downloading '{}'", volume));
  return data;
}

std::string Storage::ensure_base(const fs::path& image, const std::string& sha, const fs::path& lock_dir,
                                 const Logger& log) const {
  const std::string base = base_volume(sha);
  const std::string marker = base_marker_volume(sha);
  auto complete = [&]() -> Vol { return find(marker) ? find(base) : nullptr; };
  if (Vol vol = complete()) return volume_path(vol.get());

  // Inside the private data dir, and as private as it.
  if (fs::create_directories(lock_dir)) fs::permissions(lock_dir, fs::perms::owner_all);
  fs::path lock_file = lock_dir / fmt::format("{}-{}.lock", image::sha256_hex(connection_->uri().text).substr(0, 16),
                                              sha.substr(0, 32));
  std::optional<int> fd = os::lock_exclusive(lock_file, 30min, [&](long holder) {
    log.info("waiting for vmctl (pid {}) to upload the same image to {}", holder, connection_->uri().text);
  });
  if (!fd) {
    throw Error(errc::libvirt_timeout, fmt::format("another vmctl kept uploading {} for 30 minutes", image.string()),
                fmt::format("check the vmctl process that holds {}", lock_file.string()));
  }
  struct CloseFd {
    int fd;
    ~CloseFd() { ::close(fd); }
  } close_lock{*fd};
  if (Vol vol = complete()) return volume_path(vol.get());  // the other vmctl uploaded it
  if (find(base)) {
    log.warn("volume '{}' in pool '{}' has no marker: an upload that died; uploading again", base, name_);
    remove(base);
  }
  log.info("uploading {} to pool '{}' on {}", image.string(), name_, connection_->uri().text);
  Vol vol = upload(base, image);
  create(volume_xml(marker, 0, "raw"), fmt::format("volume '{}'", marker));
  return volume_path(vol.get());
}

}  // namespace vm_manager::libvirt
