// What the completion scripts are generated from: vmctl's commands, options
// and arguments as CLI11 defines them, with the kind of value each takes.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace vmctl::completion {

enum class ValueKind {
  none,     // a flag: no value
  any,      // a value nothing can suggest (a number, a command…)
  file,     // a local path
  folder,   // a local folder
  vm,       // a VM's name, from the data dir
  image,    // a cached image's reference, from the image cache (or a path)
  vm_path,  // cp's NAME:/path or a local path
  choice,   // one of `choices`
};

struct Value {
  ValueKind kind = ValueKind::none;
  std::vector<std::string> choices;
};

struct OptionSpec {
  std::vector<std::string> names;  // "-n", "--lines"
  std::string description;
  Value value;
};

struct PositionalSpec {
  std::string name;
  std::string description;
  Value value;
  bool repeats = false;  // takes every word left (ssh's command)
};

struct CommandSpec {
  std::string name;  // empty for the root
  std::string path;  // "image pull"; empty for the root
  std::string description;
  std::vector<OptionSpec> options;
  std::vector<PositionalSpec> positionals;
  std::vector<CommandSpec> subcommands;  // hidden ones (no help group) left out
};

// The App's tree. Values: an option with a fixed set (CLI::IsMember) offers
// it; a positional called "name" is a VM, "image" a cached image, cp's are
// NAME:/path; --image-url an image; numbers nothing; an option whose help
// speaks of a file, path, image, key or folder a path; other values nothing.
CommandSpec describe(const CLI::App& root);

}  // namespace vmctl::completion
