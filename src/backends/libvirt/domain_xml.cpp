#include "backends/libvirt/domain_xml.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace vm_manager::libvirt {
namespace {

std::string disk(std::string_view path, std::string_view format, std::string_view target, bool read_only) {
  return fmt::format(
      "    <disk type='file' device='disk'>\n"
      "      <driver name='qemu' type='{}'/>\n"
      "      <source file='{}'/>\n"
      "      <target dev='{}' bus='virtio'/>\n"
      "{}"
      "    </disk>\n",
      format, xml_escape(path), target, read_only ? "      <readonly/>\n" : "");
}

std::string os_element(const DomainDefinition& d) {
  std::string out = d.uefi ? "  <os firmware='efi'>\n" : "  <os>\n";
  out += "    <type arch='x86_64' machine='q35'>hvm</type>\n";
  if (!d.kernel_path.empty()) {
    out += fmt::format("    <kernel>{}</kernel>\n", xml_escape(d.kernel_path));
    if (!d.initrd_path.empty()) out += fmt::format("    <initrd>{}</initrd>\n", xml_escape(d.initrd_path));
    if (!d.cmdline.empty()) out += fmt::format("    <cmdline>{}</cmdline>\n", xml_escape(d.cmdline));
  } else {
    out += "    <boot dev='hd'/>\n";
  }
  return out + "  </os>\n";
}

std::string interface_element(const DomainDefinition& d) {
  std::string mac = d.mac.empty() ? "" : fmt::format("      <mac address='{}'/>\n", xml_escape(d.mac));
  if (const auto* net = std::get_if<NetworkNic>(&d.nic)) {
    return fmt::format(
        "    <interface type='network'>\n{}      <source network='{}'/>\n      <model type='virtio'/>\n"
        "    </interface>\n",
        mac, xml_escape(net->network));
  }
  if (const auto* bridge = std::get_if<BridgeNic>(&d.nic)) {
    return fmt::format(
        "    <interface type='bridge'>\n{}      <source bridge='{}'/>\n      <model type='virtio'/>\n"
        "    </interface>\n",
        mac, xml_escape(bridge->bridge));
  }
  return "";
}

std::string devices(const DomainDefinition& d) {
  std::string out = "  <devices>\n";
  out += disk(d.disk_path, "qcow2", "vda", false);
  // A virtio disk, not a CD-ROM: Debian's cloud kernel has no AHCI driver.
  if (!d.seed_path.empty()) out += disk(d.seed_path, "raw", "vdb", true);
  out += interface_element(d);
  out += "    <rng model='virtio'>\n      <backend model='random'>/dev/urandom</backend>\n    </rng>\n";
  // virtlogd appends what the serial port shows to the log: a stream has no history.
  out += fmt::format(
      "    <serial type='pty'>\n      <log file='{}' append='on'/>\n      <target port='0'/>\n    </serial>\n",
      xml_escape(d.console_log));
  out += "    <console type='pty'>\n      <target type='serial' port='0'/>\n    </console>\n";
  out += "    <graphics type='vnc' autoport='yes' listen='127.0.0.1'>\n"
         "      <listen type='address' address='127.0.0.1'/>\n    </graphics>\n";
  return out + "  </devices>\n";
}

// The text of the first <tag>…</tag> at or after `from`; npos-safe.
std::optional<std::string> element_text(std::string_view xml, std::string_view tag, std::size_t from = 0) {
  std::string open = fmt::format("<{}>", tag);
  auto start = xml.find(open, from);
  if (start == std::string_view::npos) return std::nullopt;
  start += open.size();
  auto end = xml.find(fmt::format("</{}>", tag), start);
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(xml.substr(start, end - start));
}

std::string xml_unescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out += text[i];
      continue;
    }
    static constexpr std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool matched = false;
    for (auto [entity, c] : kEntities) {
      if (text.substr(i, entity.size()) == entity) {
        out += c;
        i += entity.size() - 1;
        matched = true;
        break;
      }
    }
    if (!matched) out += '&';
  }
  return out;
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string metadata_xml(std::string_view name, std::string_view vm_id) {
  return fmt::format("<vmctl:vm xmlns:vmctl='{}'><vmctl:name>{}</vmctl:name><vmctl:id>{}</vmctl:id></vmctl:vm>",
                     kMetadataNamespace, xml_escape(name), xml_escape(vm_id));
}

std::string domain_xml(const DomainDefinition& d) {
  std::string out = fmt::format("<domain type='{}'>\n  <name>{}</name>\n", xml_escape(d.type), xml_escape(d.name));
  out += fmt::format("  <metadata>\n    {}\n  </metadata>\n", metadata_xml(d.name, d.vm_id));
  out += fmt::format("  <memory unit='MiB'>{}</memory>\n  <vcpu>{}</vcpu>\n", d.memory_mb, d.vcpus);
  out += os_element(d);
  out += "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n";
  out += "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n  <on_crash>destroy</on_crash>\n";
  out += devices(d);
  return out + "</domain>\n";
}

std::optional<std::string> metadata_vm_id(std::string_view metadata) {
  // libvirt hands the element back with a prefix of its own choosing.
  for (std::size_t at = metadata.find(":id>"); at != std::string_view::npos; at = metadata.find(":id>", at + 1)) {
    auto open = metadata.rfind('<', at);
    if (open == std::string_view::npos || metadata[open + 1] == '/') continue;
    auto start = at + 4;
    auto end = metadata.find("</", start);
    if (end == std::string_view::npos) return std::nullopt;
    return xml_unescape(metadata.substr(start, end - start));
  }
  if (auto plain = element_text(metadata, "id")) return xml_unescape(*plain);
  return std::nullopt;
}

namespace {

void collect_types(std::string_view caps, bool x86_64_only, std::vector<std::string>& types) {
  for (std::size_t guest = caps.find("<guest>"); guest != std::string_view::npos;
       guest = caps.find("<guest>", guest + 1)) {
    auto guest_end = caps.find("</guest>", guest);
    std::string_view body = caps.substr(guest, guest_end - guest);
    if (x86_64_only && body.find("<arch name='x86_64'>") == std::string_view::npos) continue;
    for (std::size_t at = body.find("<domain type='"); at != std::string_view::npos;
         at = body.find("<domain type='", at + 1)) {
      auto start = at + std::string_view("<domain type='").size();
      auto end = body.find('\'', start);
      std::string type(body.substr(start, end - start));
      if (std::find(types.begin(), types.end(), type) == types.end()) types.push_back(type);
    }
  }
}

}  // namespace

std::vector<std::string> domain_types(std::string_view caps) {
  std::vector<std::string> types;
  collect_types(caps, true, types);
  // libvirt's test driver lists i686 guests only, of its own type "test".
  if (types.empty()) collect_types(caps, false, types);
  return types;
}

std::string pool_path(std::string_view pool_xml) {
  auto target = pool_xml.find("<target>");
  if (target == std::string_view::npos) return "";
  return xml_unescape(element_text(pool_xml, "path", target).value_or(""));
}

std::string volume_xml(std::string_view name, std::uint64_t capacity, std::string_view format,
                       std::string_view backing_path, std::string_view backing_format) {
  std::string out = fmt::format(
      "<volume>\n  <name>{}</name>\n  <capacity unit='bytes'>{}</capacity>\n  <allocation>0</allocation>\n"
      "  <target>\n    <format type='{}'/>\n  </target>\n",
      xml_escape(name), capacity, xml_escape(format));
  if (!backing_path.empty()) {
    out += fmt::format("  <backingStore>\n    <path>{}</path>\n    <format type='{}'/>\n  </backingStore>\n",
                       xml_escape(backing_path), xml_escape(backing_format));
  }
  return out + "</volume>\n";
}

}  // namespace vm_manager::libvirt
