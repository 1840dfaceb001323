// "Did you mean …?" hints for misspelt names (VMFile keys, vmctl commands).
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace vm_manager::util {

// Optimal string alignment distance: insertions, deletions, substitutions
// and swaps of two neighbours each cost 1, so "memroy" is 1 away from
// "memory" (plain Levenshtein would say 2).
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `typo`, when it is near enough to be what was
// meant: at most 1 edit for short names, 2 for names of 5 or more
// characters. Ties go to the earlier candidate.
std::optional<std::string_view> closest_name(std::string_view typo, std::span<const std::string_view> candidates);

// "did you mean `memory`?", or empty when nothing is close.
std::string did_you_mean(std::string_view typo, std::span<const std::string_view> candidates);

}  // namespace vm_manager::util
