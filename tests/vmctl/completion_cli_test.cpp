// vmctl completion bash|zsh|fish and the hidden __complete: every command
// and option vmctl has appears in each script (the expected lists come from
// src/vmctl/command_list.cpp's kCommands and from vmctl's own --help, never
// from a list kept here), and the scripts complete in the real shells.
#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <gmock/gmock.h>

#include "vmctl/cli_fixture.hpp"

namespace vmctl::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The names in kCommands, as the source lists them: {"name", add_…}.
std::vector<std::string> listed_commands() {
  const std::string source = read_text(fs::path(VMCTL_SOURCE_DIR) / "src/vmctl/command_list.cpp");
  std::vector<std::string> names;
  const std::regex entry(R"re(\{"([^"]+)",\s*add_\w+\})re");
  for (auto it = std::sregex_iterator(source.begin(), source.end(), entry); it != std::sregex_iterator(); ++it) {
    names.push_back((*it)[1]);
  }
  return names;
}

// A --help section ("Options:", "Subcommands:"): the first word of each of its lines.
std::vector<std::string> help_section(const std::string& help, const std::string& title) {
  std::vector<std::string> words;
  std::istringstream lines(help);
  bool inside = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != ' ') {
      inside = line == title;
      continue;
    }
    if (!inside || line.size() < 3 || line[2] == ' ') continue;  // a wrapped description
    std::istringstream words_of(line);
    std::string first;
    words_of >> first;
    words.push_back(first);
  }
  return words;
}

// "-n,--lines" → "-n", "--lines".
std::vector<std::string> option_names(const std::vector<std::string>& entries) {
  std::vector<std::string> names;
  for (const std::string& entry : entries) {
    std::istringstream parts(entry);
    for (std::string name; std::getline(parts, name, ',');) {
      if (name.rfind('-', 0) == 0) names.push_back(name);
    }
  }
  return names;
}

std::vector<std::string> words_of(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  std::sort(words.begin(), words.end());
  return words;
}

class CompletionTest : public VmctlTest {
 protected:
  // Every command path ("", "start", "image pull") with its --help.
  std::vector<std::pair<std::string, std::string>> command_helps() {
    std::vector<std::pair<std::string, std::string>> helps;
    std::vector<std::string> pending{""};
    while (!pending.empty()) {
      const std::string path = pending.back();
      pending.pop_back();
      std::vector<std::string> args = words_of(path);
      if (!path.empty()) args = split(path);
      args.push_back("--help");
      const std::string help = ok(args);
      helps.emplace_back(path, help);
      for (const std::string& sub : help_section(help, "Subcommands:")) {
        pending.push_back(path.empty() ? sub : path + " " + sub);
      }
    }
    return helps;
  }

  static std::vector<std::string> split(const std::string& path) {
    std::istringstream in(path);
    std::vector<std::string> words;
    for (std::string word; in >> word;) words.push_back(word);
    return words;
  }

  fs::path script(const std::string& shell) {
    const fs::path file = data_ / ("completion." + shell);
    std::ofstream(file) << ok({"completion", shell});
    return file;
  }

  // Runs bash's completion function for `line` (the cursor at its end) the
  // way bash calls it, and returns the sorted candidates.
  std::vector<std::string> bash_complete(const std::string& line, const ProcessOptions& options = {}) {
    const std::string program = R"sh(
source "$1"
COMP_LINE="$2"
COMP_POINT=${#COMP_LINE}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
function=$(complete -p vmctl | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
"$function" vmctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
)sh";
    ProcessResult r = run_process({"bash", "--norc", "--noprofile", "-c", program, "bash", bash_script_.string(), line},
                                  options);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return words_of(r.out);
  }

  void SetUp() override {
    for (const char* name : {"alpha", "beta", "web-1"}) ok({"create", "--name", name, "--backend", "noop"});
    bash_script_ = script("bash");
  }

  fs::path bash_script_;
};

TEST_F(CompletionTest, KCommandsIsWhatHelpLists) {
  std::vector<std::string> listed = listed_commands();
  listed.erase(std::remove_if(listed.begin(), listed.end(), [](const std::string& n) { return n.rfind("__", 0) == 0; }),
               listed.end());
  ASSERT_GT(listed.size(), 15u) << "command_list.cpp's kCommands was not found";
  std::vector<std::string> in_help = help_section(ok({"--help"}), "Subcommands:");
  std::sort(listed.begin(), listed.end());
  std::sort(in_help.begin(), in_help.end());
  EXPECT_EQ(listed, in_help);
}

TEST_F(CompletionTest, EveryScriptNamesEveryCommandAndOption) {
  const auto helps = command_helps();
  for (const std::string shell : {"bash", "zsh", "fish"}) {
    const std::string text = read_text(script(shell));
    for (const std::string& command : listed_commands()) {
      if (command.rfind("__", 0) == 0) {
        EXPECT_THAT(text, HasSubstr("__complete")) << shell << " never asks vmctl for names";
        continue;
      }
      EXPECT_TRUE(std::regex_search(text, std::regex("[' ]" + command + "[': ]"))) << shell << ": " << command;
    }
    for (const auto& [path, help] : helps) {
      for (const std::string& sub : help_section(help, "Subcommands:")) {
        EXPECT_THAT(text, HasSubstr(sub)) << shell << ": " << path << " " << sub;
      }
      for (const std::string& option : option_names(help_section(help, "Options:"))) {
        // fish writes -l NAME and -s N.
        const std::string fish_form = option.rfind("--", 0) == 0 ? "-l " + option.substr(2) : "-s " + option.substr(1);
        EXPECT_TRUE(text.find(option) != std::string::npos || (shell == "fish" && text.find(fish_form) != std::string::npos))
            << shell << ": '" << path << "' option " << option;
      }
    }
  }
}

TEST_F(CompletionTest, BashCompletesCommandsOptionsAndVmNames) {
  ProcessResult registered = run_process({"bash", "--norc", "--noprofile", "-c", "source \"$1\"; complete -p vmctl",
                                          "bash", bash_script_.string()});
  EXPECT_THAT(registered.out, HasSubstr(" vmctl\n")) << registered.err;
  // The script's own vmctl call for names must reach this data dir.
  const std::string vmctl = std::string(VMCTL_BINARY) + " --data-dir " + data_.str();

  EXPECT_EQ(bash_complete(vmctl + " st"), (std::vector<std::string>{"start", "status", "stop"}));
  EXPECT_EQ(bash_complete(vmctl + " ssh "), (std::vector<std::string>{"alpha", "beta", "web-1"}));
  EXPECT_EQ(bash_complete(vmctl + " stop --timeout 5 w"), (std::vector<std::string>{"web-1"}));
  EXPECT_EQ(bash_complete(vmctl + " image "), (std::vector<std::string>{"inspect", "list", "pull", "rm"}));
  EXPECT_EQ(bash_complete(vmctl + " create --network "), (std::vector<std::string>{"none", "tap", "user", "vnic"}));
  EXPECT_EQ(bash_complete(vmctl + " completion "), (std::vector<std::string>{"bash", "fish", "zsh"}));
  EXPECT_EQ(bash_complete(vmctl + " cp -r al"), (std::vector<std::string>{"alpha:"}));
  const std::vector<std::string> log_options = bash_complete(vmctl + " log --f");
  EXPECT_EQ(log_options, (std::vector<std::string>{"--follow"}));
}

TEST_F(CompletionTest, NamesComeFromTheDataDirAndTheCacheQuietly) {
  EXPECT_EQ(ok({"__complete", "vms"}), "alpha\nbeta\nweb-1\n");
  ProcessOptions cache;
  cache.env["VMCTL_IMAGE_CACHE"] = (data_ / "cache").string();
  ProcessResult empty = run_vmctl(data_.str(), {"__complete", "images"}, cache);
  EXPECT_EQ(empty.exit_code, 0);
  EXPECT_EQ(empty.out, "");
  // A compressed image is decompressed into the cache: it is then offered by its source.
  const fs::path image = data_ / "disk.qcow2";
  ASSERT_EQ(run_process({"qemu-img", "create", "-f", "qcow2", image.string(), "1M"}).exit_code, 0);
  ASSERT_EQ(run_process({"gzip", image.string()}).exit_code, 0);
  const std::string source = image.string() + ".gz";
  ASSERT_EQ(run_vmctl(data_.str(), {"image", "pull", source}, cache).exit_code, 0);
  EXPECT_EQ(run_vmctl(data_.str(), {"__complete", "images"}, cache).out, source + "\n");
  fs::remove(source);  // only the cache can offer it now
  const std::string vmctl = std::string(VMCTL_BINARY) + " --data-dir " + data_.str();
  EXPECT_EQ(bash_complete(vmctl + " image inspect " + data_.str() + "/di", cache), (std::vector<std::string>{source}));
  // A data dir that cannot be used offers nothing, and says nothing.
  ProcessResult nowhere = run_vmctl((data_ / "a-file").string(), {"__complete", "vms"});
  std::ofstream(data_ / "a-file") << "x";
  ProcessResult broken = run_vmctl((data_ / "a-file").string(), {"__complete", "vms"});
  EXPECT_EQ(broken.exit_code, 0);
  EXPECT_EQ(broken.out + broken.err, "");
  EXPECT_EQ(nowhere.out + nowhere.err, "");
  // Hidden: --help does not list it.
  EXPECT_THAT(ok({"--help"}), ::testing::Not(HasSubstr("__complete")));
}

TEST_F(CompletionTest, FishCompletesInFish) {
  const fs::path fish = script("fish");
  const fs::path bin = data_ / "bin";
  fs::create_directories(bin);
  fs::create_symlink(VMCTL_BINARY, bin / "vmctl");
  ProcessOptions options;
  options.env["PATH"] = bin.string() + ":/usr/local/bin:/usr/bin:/bin";
  options.env["VMCTL_DATA_DIR"] = data_.str();
  ProcessResult r = run_process({"fish", "--no-config", "-c",
                                 "source $argv[1]; complete -C 'vmctl st'; echo ---; complete -C 'vmctl ssh '",
                                 fish.string()},
                                options);
  ASSERT_EQ(r.exit_code, 0) << r.err << "\n(fish comes with `make deps`: apt-get install fish)";
  const std::string before = r.out.substr(0, r.out.find("---"));
  const std::string after = r.out.substr(r.out.find("---"));
  for (const char* command : {"start\t", "status\t", "stop\t"}) EXPECT_THAT(before, HasSubstr(command)) << r.out;
  for (const char* vm : {"alpha\n", "beta\n", "web-1\n"}) EXPECT_THAT(after, HasSubstr(vm)) << r.out;
}

TEST_F(CompletionTest, ZshLoadsTheScriptAndRegistersIt) {
  const fs::path zsh = script("zsh");
  ProcessResult syntax = run_process({"zsh", "-n", zsh.string()});
  ASSERT_EQ(syntax.exit_code, 0) << syntax.err << "\n(zsh comes with `make deps`: apt-get install zsh)";
  ProcessResult loaded = run_process({"zsh", "-f", "-c",
                                      "autoload -U compinit && compinit -u -d \"$2\" && source \"$1\" && "
                                      "print -- $_comps[vmctl] && whence -w _vmctl_cmd_image_pull",
                                      "zsh", zsh.string(), (data_ / "zcompdump").string()});
  EXPECT_EQ(loaded.exit_code, 0) << loaded.err;
  EXPECT_EQ(loaded.out, "_vmctl\n_vmctl_cmd_image_pull: function\n") << loaded.err;
}

}  // namespace
}  // namespace vmctl::test
