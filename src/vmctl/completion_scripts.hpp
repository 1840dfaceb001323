// The bash, zsh and fish completion scripts of `vmctl completion`, written
// from the command tree (completion_model.hpp). Dynamic values (VM names,
// cached images) come from `vmctl __complete vms|images` when completing.
#pragma once

#include <string>

#include "vmctl/completion_model.hpp"

namespace vmctl::completion {

std::string bash_script(const CommandSpec& root);
std::string zsh_script(const CommandSpec& root);
std::string fish_script(const CommandSpec& root);

}  // namespace vmctl::completion
