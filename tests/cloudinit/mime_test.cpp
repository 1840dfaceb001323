// The multipart archive, read back with Python's email module (what
// cloud-init splits user-data with).
#include "cloudinit/mime.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "os/process.hpp"
#include "vm_manager/error.hpp"

namespace {
using vm_manager::Error;
using vm_manager::cloudinit::combine_user_data;
using vm_manager::cloudinit::detect_content_type;
using vm_manager::cloudinit::kMergeType;
using vm_manager::cloudinit::make_multipart;
using vm_manager::cloudinit::MimePart;

struct Parsed {
  nlohmann::json top;
  std::vector<nlohmann::json> parts;
};

// Parses with email.message_from_string, as cloud-init does; payloads are
// the decoded bytes (get_payload(decode=True)) read as UTF-8.
Parsed python_email(const std::string& archive) {
  vm_manager::os::ProcessSpec spec;
  spec.argv = {"python3", "-c",
               "import sys, json, email\n"
               "msg = email.message_from_string(sys.stdin.buffer.read().decode('utf-8'))\n"
               "out = {'multipart': msg.is_multipart(), 'type': msg.get_content_type(),\n"
               "       'mime_version': msg.get('MIME-Version'), 'boundary': msg.get_boundary(),\n"
               "       'defects': [str(d) for d in msg.defects], 'parts': []}\n"
               "for part in msg.walk():\n"
               "    if part.is_multipart(): continue\n"
               "    out['parts'].append({'type': part.get_content_type(),\n"
               "        'merge': part.get('Merge-Type'),\n"
               "        'payload': part.get_payload(decode=True).decode('utf-8'),\n"
               "        'defects': [str(d) for d in part.defects]})\n"
               "sys.stdout.write(json.dumps(out))\n"};
  spec.stdin_data = archive;
  auto result = vm_manager::os::run_process(spec, std::chrono::seconds(30));
  if (!result.ok()) throw std::runtime_error("python3 email failed: " + result.err);
  Parsed parsed;
  parsed.top = nlohmann::json::parse(result.out);
  for (const auto& part : parsed.top["parts"]) parsed.parts.push_back(part);
  return parsed;
}

const std::string kGenerated = "#cloud-config\nusers:\n  - name: \"vm\"\nssh_pwauth: false\n";

void expect_invalid(const std::string& user_data) {
  try {
    combine_user_data(kGenerated, user_data);
    ADD_FAILURE() << "accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), "vm_manager::cloudinit::invalid_user_data") << e.what();
    EXPECT_FALSE(e.help().empty());
  }
}

TEST(Mime, DetectsContentTypes) {
  EXPECT_EQ(detect_content_type("#cloud-config\npackages: [curl]\n"), "text/cloud-config");
  EXPECT_EQ(detect_content_type("#cloud-config\r\n"), "text/cloud-config");
  EXPECT_EQ(detect_content_type("#!/bin/sh\necho hi\n"), "text/x-shellscript");
  EXPECT_EQ(detect_content_type("#include\nhttps://example.com/a\n"), "text/x-include-url");
  EXPECT_EQ(detect_content_type("#include-once\nhttps://example.com/a\n"), "text/x-include-once-url");
  EXPECT_EQ(detect_content_type("#cloud-boothook\necho\n"), "text/cloud-boothook");
  EXPECT_EQ(detect_content_type("packages:\n  - curl\n"), "text/cloud-config");
}

TEST(Mime, CombinesCloudConfigWithUserCloudConfig) {
  const std::string user = "#cloud-config\npackages:\n  - curl\nruncmd:\n  - [\"echo\", \"--x\"]\n";
  const std::string archive = combine_user_data(kGenerated, user);
  const Parsed parsed = python_email(archive);
  EXPECT_EQ(parsed.top["multipart"], true);
  EXPECT_EQ(parsed.top["type"], "multipart/mixed");
  EXPECT_EQ(parsed.top["mime_version"], "1.0");
  EXPECT_TRUE(parsed.top["defects"].empty()) << parsed.top.dump();
  ASSERT_EQ(parsed.parts.size(), 2u);
  EXPECT_EQ(parsed.parts[0]["type"], "text/cloud-config");
  EXPECT_EQ(parsed.parts[0]["merge"], std::string(kMergeType));
  EXPECT_EQ(parsed.parts[0]["payload"], kGenerated);
  EXPECT_EQ(parsed.parts[1]["type"], "text/cloud-config");
  EXPECT_EQ(parsed.parts[1]["merge"], std::string(kMergeType));
  EXPECT_EQ(parsed.parts[1]["payload"], user);
  for (const auto& part : parsed.parts) EXPECT_TRUE(part["defects"].empty());
  EXPECT_EQ(kMergeType, "list(append)+dict(no_replace,recurse_list)+str()");
}

TEST(Mime, ScriptsIncludesAndBareYaml) {
  struct Case {
    std::string user;
    std::string type;
    bool merge;
  };
  const std::vector<Case> cases{
      {"#!/bin/bash\nset -e\necho '--boundary'\n", "text/x-shellscript", false},
      {"#include\nhttps://example.com/one\n", "text/x-include-url", false},
      {"packages: [curl]\nwrite_files:\n  - path: /x\n    content: \"a\"\n", "text/cloud-config", true},
      {"#!/bin/sh\necho no trailing newline", "text/x-shellscript", false},
      {"#!/bin/sh\n\n\necho blank lines\n\n\n", "text/x-shellscript", false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.user);
    const Parsed parsed = python_email(combine_user_data(kGenerated, c.user));
    ASSERT_EQ(parsed.parts.size(), 2u);
    EXPECT_EQ(parsed.parts[0]["payload"], kGenerated);
    EXPECT_EQ(parsed.parts[1]["type"], c.type);
    EXPECT_EQ(parsed.parts[1]["payload"], c.user);
    if (c.merge) {
      EXPECT_EQ(parsed.parts[1]["merge"], std::string(kMergeType));
    } else {
      EXPECT_TRUE(parsed.parts[1]["merge"].is_null());
    }
  }
}

TEST(Mime, NonAsciiAndCrlfSurviveExactly) {
  const std::string user = "#cloud-config\r\nwrite_files:\r\n  - path: /tmp/ü\r\n    content: \"日本 🚀\"\r\n";
  const std::string archive = combine_user_data(kGenerated, user);
  const Parsed parsed = python_email(archive);
  ASSERT_EQ(parsed.parts.size(), 2u);
  EXPECT_EQ(parsed.parts[1]["type"], "text/cloud-config");
  EXPECT_EQ(parsed.parts[1]["payload"], user);
  // The archive itself stays 7-bit.
  for (char c : archive) EXPECT_LT(static_cast<unsigned char>(c), 0x80);
}

TEST(Mime, BoundaryNeverInParts) {
  // Parts full of boundary-looking text.
  std::string nasty = "#!/bin/sh\n";
  for (int i = 0; i < 50; ++i) nasty += "--==vmctl-0123456789abcdef01234567==\n--\n==\n";
  std::vector<MimePart> parts{{"text/cloud-config", kGenerated, std::string(kMergeType)},
                              {"text/x-shellscript", nasty, ""},
                              {"text/x-shellscript", "", ""}};
  for (int round = 0; round < 5; ++round) {
    const std::string archive = make_multipart(parts);
    const Parsed parsed = python_email(archive);
    const std::string boundary = parsed.top["boundary"];
    ASSERT_FALSE(boundary.empty());
    for (const auto& part : parts) EXPECT_EQ(part.content.find(boundary), std::string::npos);
    ASSERT_EQ(parsed.parts.size(), 3u);
    EXPECT_EQ(parsed.parts[1]["payload"], nasty);
    EXPECT_EQ(parsed.parts[2]["payload"], "");
    // The boundary appears only as delimiters: 3 opening ones, 1 closing, 1 in the header.
    std::size_t count = 0;
    for (auto at = archive.find(boundary); at != std::string::npos; at = archive.find(boundary, at + 1)) ++count;
    EXPECT_EQ(count, 5u);
  }
}

TEST(Mime, EmptyUserDataGivesGeneratedAlone) {
  EXPECT_EQ(combine_user_data(kGenerated, ""), kGenerated);
}

TEST(Mime, RejectsUnsupportedUserData) {
  expect_invalid("Content-Type: multipart/mixed; boundary=\"x\"\nMIME-Version: 1.0\n\n--x\n\nhi\n--x--\n");
  expect_invalid("MIME-Version: 1.0\nContent-Type: text/plain\n\nhi\n");
  expect_invalid(std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00", 8));
  expect_invalid("just some text");
  expect_invalid("- a\n- list\n");
  expect_invalid("key: [unclosed\n");
  expect_invalid("#cloud-config-archive\n- type: text/x-shellscript\n");
  expect_invalid("## template: jinja\n#cloud-config\n");
  expect_invalid(std::string("a: b\n\0", 6));
}

}  // namespace
