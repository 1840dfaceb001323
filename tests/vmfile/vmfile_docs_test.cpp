// The examples in docs/vmfile.md are checked against the code, so the
// documentation cannot drift from what vmctl accepts: every ```kdl block
// parses as KDL; a block with `vm` nodes (and maybe hosts) is a VMFile that
// must validate; a block of nodes from inside a `vm` is validated node by
// node inside one;
// and the validation example's ```text output is what `vmctl validate`
// really prints for it.
//
// vmfile::parse() checks that the files a VMFile names exist (there is no
// parse-only mode), so the test creates every file the examples name in a
// temporary project and home folder instead of skipping those checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "ssh/keys.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "vmfile/kdl.hpp"
#include "vmfile/vmfile.hpp"

namespace {

namespace fs = std::filesystem;
using namespace vm_manager;

const fs::path kDoc = fs::path(VMCTL_SOURCE_DIR) / "docs/vmfile.md";

// One fenced block of the document: its language, its text and the line of
// its opening fence (for messages).
struct Block {
  std::string language;
  std::string text;
  int line = 0;
};

std::vector<Block> fenced_blocks(const fs::path& markdown) {
  std::ifstream in(markdown);
  std::vector<Block> blocks;
  std::string line;
  int number = 0;
  bool inside = false;
  while (std::getline(in, line)) {
    ++number;
    if (!inside && line.starts_with("```")) {
      blocks.push_back({line.substr(3), "", number});
      inside = true;
    } else if (inside && line == "```") {
      inside = false;
    } else if (inside) {
      blocks.back().text += line + "\n";
    }
  }
  EXPECT_FALSE(inside) << "unclosed ``` fence in " << markdown;
  return blocks;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string describe(const std::vector<vmfile::Problem>& problems) {
  std::string out;
  for (const auto& p : problems) {
    out += std::to_string(p.position.line) + ":" + std::to_string(p.position.column) + ": " + p.message + "\n";
  }
  return out;
}

// A whole VMFile rather than nodes from inside a `vm`: it has a `vm` (and
// may declare hosts above it).
bool is_vmfile(const kdl::Document& doc) {
  return std::any_of(doc.nodes.begin(), doc.nodes.end(), [](const kdl::Node& node) { return node.name == "vm"; });
}

// The context a node from a `vm` block needs to form a valid VM: an image
// (unless it is one), image-url for image-sha256, kernel for initrd/cmdline.
std::string context_for(const std::string& node) {
  if (node == "image" || node == "image-url") return "";
  if (node == "image-sha256") return "    image-url \"https://example.com/disk.qcow2\"\n";
  if (node == "initrd" || node == "cmdline") return "    image \"disk.qcow2\"\n    kernel \"boot/vmlinuz\"\n";
  return "    image \"disk.qcow2\"\n";
}

// A project folder and home folder holding every file the examples name.
class VmFileDocs : public ::testing::Test {
 protected:
  void SetUp() override {
    home_ = dir_.path() / "home";
    project_ = dir_.path() / "project";
    fs::create_directories(home_ / ".ssh");
    fs::create_directories(project_);
    // ssh-key must be a real public key; private-key must have it beside it.
    ssh::generate_key_files(home_ / ".ssh/id_ed25519", "docs@vmfile");
    for (const char* file : {"images/debian-12.qcow2", "disk.qcow2", "cloud-config.yaml", "scripts/setup.sh",
                             "config/app.conf", "boot/vmlinuz", "boot/initrd.img", "site/index.html",
                             "scripts/publish.sh", "db/cloud-config.yaml", "guest/disk.qcow2", "guest/vmlinuz",
                             "guest/initrd.img"}) {
      touch(project_ / file);
    }
    touch(home_ / "images/debian-12-generic-amd64.qcow2");
    for (const fs::path& folder : {project_ / "src", project_ / "data", home_ / "notes"}) fs::create_directories(folder);
  }

  static void touch(const fs::path& path) {
    fs::create_directories(path.parent_path());
    std::ofstream(path) << "x";
  }

  // The problems of `text` as a VMFile in the project folder (none: valid).
  std::vector<vmfile::Problem> problems(const std::string& text) {
    try {
      vmfile::parse(text, project_ / "VMFile.kdl", {home_});
    } catch (const vmfile::ValidationError& error) {
      return error.problems();
    }
    return {};
  }

  vmctl::test::TempDir dir_;
  fs::path home_;
  fs::path project_;
};

TEST_F(VmFileDocs, FindsTheExamples) {
  std::vector<Block> blocks = fenced_blocks(kDoc);
  int kdl = 0;
  for (const Block& block : blocks) kdl += block.language == "kdl";
  // 11 when this test was written; fewer means the extraction broke (or
  // examples were removed without updating this).
  EXPECT_GE(kdl, 11);
}

TEST_F(VmFileDocs, EveryKdlExampleParses) {
  for (const Block& block : fenced_blocks(kDoc)) {
    if (block.language != "kdl") continue;
    SCOPED_TRACE("docs/vmfile.md:" + std::to_string(block.line) + "\n" + block.text);
    EXPECT_NO_THROW(kdl::parse(block.text));
  }
}

TEST_F(VmFileDocs, EveryVmExampleIsValid) {
  std::vector<Block> blocks = fenced_blocks(kDoc);
  int checked = 0;
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const Block& block = blocks[i];
    if (block.language != "kdl") continue;
    // A block followed by its ```text output is the (invalid) validation example.
    if (i + 1 < blocks.size() && blocks[i + 1].language == "text") continue;
    kdl::Document doc = kdl::parse(block.text);
    if (!is_vmfile(doc)) continue;
    SCOPED_TRACE("docs/vmfile.md:" + std::to_string(block.line) + "\n" + block.text);
    EXPECT_EQ(describe(problems(block.text)), "");
    ++checked;
  }
  EXPECT_GE(checked, 3);  // the introduction, `vm` and the full example
}

// Blocks of nodes that go inside a `vm` (`vcpus 4`, `network "tap"`, …)
// often list alternatives (several `network` lines), so each node is
// checked in a VM of its own.
TEST_F(VmFileDocs, EveryNodeExampleIsValidInsideAVm) {
  int checked = 0;
  for (const Block& block : fenced_blocks(kDoc)) {
    if (block.language != "kdl") continue;
    kdl::Document doc = kdl::parse(block.text);
    if (doc.nodes.empty() || is_vmfile(doc)) continue;
    std::vector<std::string> lines = lines_of(block.text);
    for (std::size_t n = 0; n < doc.nodes.size(); ++n) {
      const kdl::Node& node = doc.nodes[n];
      // "5f0b…64 hex digits…" stands for a digest; it is not one.
      const std::string* first = node.arguments.empty() ? nullptr : node.arguments[0].as_string();
      if (first != nullptr && first->find("…") != std::string::npos) continue;
      int from = node.position.line;
      int to = n + 1 < doc.nodes.size() ? doc.nodes[n + 1].position.line : static_cast<int>(lines.size()) + 1;
      std::string text;
      for (int l = from; l < to; ++l) text += "    " + lines[static_cast<std::size_t>(l - 1)] + "\n";
      std::string vm = "vm \"doc\" {\n" + context_for(node.name) + text + "}\n";
      SCOPED_TRACE("docs/vmfile.md:" + std::to_string(block.line + from) + "\n" + vm);
      EXPECT_EQ(describe(problems(vm)), "");
      ++checked;
    }
  }
  EXPECT_GE(checked, 24);  // 24 when this test was written
}

// The output shown for the validation example is vmctl's real output (with
// the project folder written as /home/me/web).
TEST_F(VmFileDocs, ValidationExampleShowsTheRealOutput) {
  std::vector<Block> blocks = fenced_blocks(kDoc);
  int checked = 0;
  for (std::size_t i = 0; i + 1 < blocks.size(); ++i) {
    if (blocks[i].language != "kdl" || blocks[i + 1].language != "text") continue;
    SCOPED_TRACE("docs/vmfile.md:" + std::to_string(blocks[i].line));
    std::ofstream(project_ / "VMFile.kdl") << blocks[i].text;
    vmctl::test::ProcessOptions options;
    options.cwd = project_.string();
    options.env["HOME"] = home_.string();
    vmctl::test::ProcessResult r = vmctl::test::run_vmctl((dir_.path() / "data").string(), {"validate"}, options);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    std::string shown = r.err;
    for (std::size_t at = shown.find(project_.string()); at != std::string::npos;
         at = shown.find(project_.string(), at)) {
      shown.replace(at, project_.string().size(), "/home/me/web");
    }
    EXPECT_EQ("$ vmctl validate\n" + shown, blocks[i + 1].text);
    ++checked;
  }
  EXPECT_EQ(checked, 1);
}

}  // namespace
