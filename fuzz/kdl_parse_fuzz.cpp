// libFuzzer target for the hand-written KDL parser (src/vmfile/kdl*.cpp;
// Debian ships no KDL library, so ours must survive anything).
//
// Input: the bytes of a document, parsed with a small max_depth so deep
// nesting is exercised cheaply. Only kdl::ParseError (code vmfile_syntax, a
// one-line message, a help text, a two-line snippet) may come out; another
// exception, a crash, a hang or a sanitizer report is a finding.
//
// Also compiled into kdl_test (g++), which replays the corpus.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "vmfile/kdl.hpp"

namespace {

void check(const vm_manager::kdl::ParseError& e) {
  bool one_line = !e.message().empty() && e.message().find('\n') == std::string::npos;
  bool code = e.code() == vm_manager::errc::vmfile_syntax;
  std::string snippet = e.snippet();
  bool two_lines = snippet.find('\n') != std::string::npos && snippet.find('\n') == snippet.rfind('\n');
  bool positioned = e.position().line >= 1 && e.position().column >= 1;
  if (!one_line || !code || e.help().empty() || !two_lines || !positioned) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  vm_manager::kdl::ParseOptions options;
  options.max_depth = 24;
  options.source_name = "fuzz.kdl";
  try {
    vm_manager::kdl::Document document = vm_manager::kdl::parse(text, options);
    if (document.version != 1 && document.version != 2) std::abort();
  } catch (const vm_manager::kdl::ParseError& e) {
    check(e);
  }
  return 0;
}
