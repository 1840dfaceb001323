#include "util/did_you_mean.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace vm_manager::util {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Full table: names are short, and the swap rule needs two rows back.
  const std::size_t rows = a.size() + 1;
  const std::size_t cols = b.size() + 1;
  std::vector<std::size_t> d(rows * cols);
  auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * cols + j]; };
  for (std::size_t i = 0; i < rows; ++i) at(i, 0) = i;
  for (std::size_t j = 0; j < cols; ++j) at(0, j) = j;
  for (std::size_t i = 1; i < rows; ++i) {
    for (std::size_t j = 1; j < cols; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(rows - 1, cols - 1);
}

std::optional<std::string_view> closest_name(std::string_view typo, std::span<const std::string_view> candidates) {
  const std::size_t allowed = typo.size() >= 5 ? 2 : 1;
  std::optional<std::string_view> best;
  std::size_t best_distance = allowed + 1;
  for (std::string_view candidate : candidates) {
    const std::size_t distance = edit_distance(typo, candidate);
    // A distance as large as the candidate itself means nothing in common.
    if (distance < best_distance && distance < candidate.size()) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

std::string did_you_mean(std::string_view typo, std::span<const std::string_view> candidates) {
  std::optional<std::string_view> best = closest_name(typo, candidates);
  return best ? fmt::format("did you mean `{}`?", *best) : std::string();
}

}  // namespace vm_manager::util
