#include "backends/libvirt/domain_xml.hpp"

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <memory>

#include <gtest/gtest.h>

namespace vm_manager::libvirt {
namespace {

// The domain XML parsed back, asked with XPath (vmctl: bound to the metadata namespace).
class ParsedXml {
 public:
  explicit ParsedXml(const std::string& xml)
      : doc_(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "domain.xml", nullptr, XML_PARSE_NONET),
             xmlFreeDoc) {
    if (!doc_) throw std::runtime_error("not well-formed XML:\n" + xml);
  }
  // The string value of `xpath` ("" when nothing matches).
  std::string text(const std::string& xpath) const { return eval("string(" + xpath + ")"); }
  int count(const std::string& xpath) const { return std::stoi(eval("count(" + xpath + ")")); }

 private:
  std::string eval(const std::string& xpath) const {
    std::unique_ptr<xmlXPathContext, decltype(&xmlXPathFreeContext)> ctx(xmlXPathNewContext(doc_.get()),
                                                                          xmlXPathFreeContext);
    xmlXPathRegisterNs(ctx.get(), BAD_CAST "vmctl", BAD_CAST std::string(kMetadataNamespace).c_str());
    std::unique_ptr<xmlXPathObject, decltype(&xmlXPathFreeObject)> result(
        xmlXPathEvalExpression(BAD_CAST xpath.c_str(), ctx.get()), xmlXPathFreeObject);
    if (!result) throw std::runtime_error("bad XPath " + xpath);
    xmlChar* s = xmlXPathCastToString(result.get());
    std::string out(reinterpret_cast<const char*>(s));
    xmlFree(s);
    return out;
  }
  std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)> doc_;
};

DomainDefinition sample() {
  DomainDefinition d;
  d.name = "web";
  d.vm_id = "0f5c3a1e-1111-2222-3333-444455556666";
  d.type = "kvm";
  d.vcpus = 2;
  d.memory_mb = 512;
  d.disk_path = "/pool/vmctl-0f5c.qcow2";
  d.seed_path = "/pool/vmctl-0f5c-seed.iso";
  d.nic = NetworkNic{"default"};
  d.mac = "52:54:00:aa:bb:cc";
  d.console_log = "/pool/vmctl-0f5c-console.log";
  return d;
}

TEST(LibvirtDomainXml, CarriesNameTypeSizeAndMetadata) {
  ParsedXml xml(domain_xml(sample()));
  EXPECT_EQ(xml.text("/domain/@type"), "kvm");
  EXPECT_EQ(xml.text("/domain/name"), "web");
  EXPECT_EQ(xml.text("/domain/memory"), "512");
  EXPECT_EQ(xml.text("/domain/memory/@unit"), "MiB");
  EXPECT_EQ(xml.text("/domain/vcpu"), "2");
  EXPECT_EQ(xml.text("/domain/metadata/vmctl:vm/vmctl:name"), "web");
  EXPECT_EQ(xml.text("/domain/metadata/vmctl:vm/vmctl:id"), "0f5c3a1e-1111-2222-3333-444455556666");
  EXPECT_EQ(xml.text("/domain/os/type/@machine"), "q35");
  EXPECT_EQ(xml.count("/domain/os/@firmware"), 0);
}

TEST(LibvirtDomainXml, DiskAndSeedAreVirtioDisks) {
  ParsedXml xml(domain_xml(sample()));
  EXPECT_EQ(xml.count("/domain/devices/disk"), 2);
  EXPECT_EQ(xml.text("/domain/devices/disk[target/@dev='vda']/source/@file"), "/pool/vmctl-0f5c.qcow2");
  EXPECT_EQ(xml.text("/domain/devices/disk[target/@dev='vda']/driver/@type"), "qcow2");
  EXPECT_EQ(xml.text("/domain/devices/disk[target/@dev='vda']/target/@bus"), "virtio");
  EXPECT_EQ(xml.text("/domain/devices/disk[target/@dev='vdb']/source/@file"), "/pool/vmctl-0f5c-seed.iso");
  EXPECT_EQ(xml.text("/domain/devices/disk[target/@dev='vdb']/target/@bus"), "virtio");
  EXPECT_EQ(xml.count("/domain/devices/disk[target/@dev='vdb']/readonly"), 1);
}

TEST(LibvirtDomainXml, WithoutSeedOneDisk) {
  DomainDefinition d = sample();
  d.seed_path.clear();
  EXPECT_EQ(ParsedXml(domain_xml(d)).count("/domain/devices/disk"), 1);
}

TEST(LibvirtDomainXml, SerialIsLoggedConsoleRngAndVncOnLoopback) {
  ParsedXml xml(domain_xml(sample()));
  EXPECT_EQ(xml.text("/domain/devices/serial/@type"), "pty");
  EXPECT_EQ(xml.text("/domain/devices/serial/log/@file"), "/pool/vmctl-0f5c-console.log");
  EXPECT_EQ(xml.text("/domain/devices/serial/log/@append"), "on");
  EXPECT_EQ(xml.text("/domain/devices/console/@type"), "pty");
  EXPECT_EQ(xml.text("/domain/devices/rng/@model"), "virtio");
  EXPECT_EQ(xml.text("/domain/devices/graphics/@type"), "vnc");
  EXPECT_EQ(xml.text("/domain/devices/graphics/@listen"), "127.0.0.1");
  EXPECT_EQ(xml.text("/domain/devices/graphics/listen/@address"), "127.0.0.1");
}

TEST(LibvirtDomainXml, NetworkBridgeOrNone) {
  ParsedXml on_network(domain_xml(sample()));
  EXPECT_EQ(on_network.text("/domain/devices/interface/@type"), "network");
  EXPECT_EQ(on_network.text("/domain/devices/interface/source/@network"), "default");
  EXPECT_EQ(on_network.text("/domain/devices/interface/model/@type"), "virtio");
  EXPECT_EQ(on_network.text("/domain/devices/interface/mac/@address"), "52:54:00:aa:bb:cc");

  DomainDefinition d = sample();
  d.nic = BridgeNic{"br0"};
  ParsedXml on_bridge(domain_xml(d));
  EXPECT_EQ(on_bridge.text("/domain/devices/interface/@type"), "bridge");
  EXPECT_EQ(on_bridge.text("/domain/devices/interface/source/@bridge"), "br0");

  d.nic = NoNic{};
  EXPECT_EQ(ParsedXml(domain_xml(d)).count("/domain/devices/interface"), 0);
}

TEST(LibvirtDomainXml, UefiAndDirectKernelBoot) {
  DomainDefinition d = sample();
  d.uefi = true;
  d.kernel_path = "/pool/vmctl-x-kernel";
  d.initrd_path = "/pool/vmctl-x-initrd";
  d.cmdline = "console=ttyS0 root=/dev/vda1";
  ParsedXml xml(domain_xml(d));
  EXPECT_EQ(xml.text("/domain/os/@firmware"), "efi");
  EXPECT_EQ(xml.text("/domain/os/kernel"), "/pool/vmctl-x-kernel");
  EXPECT_EQ(xml.text("/domain/os/initrd"), "/pool/vmctl-x-initrd");
  EXPECT_EQ(xml.text("/domain/os/cmdline"), "console=ttyS0 root=/dev/vda1");
  EXPECT_EQ(xml.count("/domain/os/boot"), 0);
}

TEST(LibvirtDomainXml, TextAndAttributesAreEscaped) {
  DomainDefinition d = sample();
  d.kernel_path = "/pool/k";
  d.cmdline = "a=<b> & c='d' \"e\"";
  d.disk_path = "/pool/it's & <odd>.qcow2";
  d.nic = BridgeNic{"br'0\""};
  ParsedXml xml(domain_xml(d));
  EXPECT_EQ(xml.text("/domain/os/cmdline"), "a=<b> & c='d' \"e\"");
  EXPECT_EQ(xml.text("/domain/devices/disk[target/@dev='vda']/source/@file"), "/pool/it's & <odd>.qcow2");
  EXPECT_EQ(xml.text("/domain/devices/interface/source/@bridge"), "br'0\"");
  EXPECT_EQ(xml.count("/domain/devices/interface"), 1);
}

TEST(LibvirtDomainXml, MetadataIdReadBackWhateverThePrefix) {
  EXPECT_EQ(metadata_vm_id(metadata_xml("web", "id-1")), "id-1");
  // As libvirt returns it: its own prefix, or none.
  EXPECT_EQ(metadata_vm_id("<vm>\n  <name>web</name>\n  <id>id-2</id>\n</vm>"), "id-2");
  EXPECT_EQ(metadata_vm_id("<v:vm xmlns:v='x'><v:name>a</v:name><v:id>id-3</v:id></v:vm>"), "id-3");
  EXPECT_EQ(metadata_vm_id("<vm><name>web</name></vm>"), std::nullopt);
  EXPECT_EQ(metadata_vm_id(metadata_xml("a&b", "x<y")), "x<y");
}

TEST(LibvirtDomainXml, DomainTypesFromCapabilities) {
  const std::string caps =
      "<capabilities><guest><os_type>hvm</os_type><arch name='i686'><domain type='qemu'/></arch></guest>"
      "<guest><os_type>hvm</os_type><arch name='x86_64'><wordsize>64</wordsize>"
      "<domain type='qemu'/><domain type='kvm'/></arch></guest></capabilities>";
  EXPECT_EQ(domain_types(caps), (std::vector<std::string>{"qemu", "kvm"}));
  const std::string test_driver =
      "<capabilities><guest><os_type>hvm</os_type><arch name='i686'><domain type='test'/></arch></guest>"
      "</capabilities>";
  EXPECT_EQ(domain_types(test_driver), (std::vector<std::string>{"test"}));
  EXPECT_TRUE(domain_types("<capabilities/>").empty());
}

TEST(LibvirtDomainXml, PoolPathIsTheTargetPath) {
  EXPECT_EQ(pool_path("<pool type='dir'><name>p</name><source><path>/no</path></source>"
                      "<target>\n<path>/var/lib/x&amp;y</path></target></pool>"),
            "/var/lib/x&y");
  EXPECT_EQ(pool_path("<pool type='dir'><name>p</name></pool>"), "");
}

TEST(LibvirtDomainXml, VolumeXmlWithBackingStore) {
  ParsedXml plain(volume_xml("v.iso", 4096, "raw"));
  EXPECT_EQ(plain.text("/volume/name"), "v.iso");
  EXPECT_EQ(plain.text("/volume/capacity"), "4096");
  EXPECT_EQ(plain.text("/volume/target/format/@type"), "raw");
  EXPECT_EQ(plain.count("/volume/backingStore"), 0);
  ParsedXml overlay(volume_xml("v.qcow2", 1 << 30, "qcow2", "/pool/base", "raw"));
  EXPECT_EQ(overlay.text("/volume/backingStore/path"), "/pool/base");
  EXPECT_EQ(overlay.text("/volume/backingStore/format/@type"), "raw");
}

}  // namespace
}  // namespace vm_manager::libvirt
