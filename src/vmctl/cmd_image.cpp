// vmctl image pull|list|inspect|rm: the image cache (src/image/image_cache.hpp).
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "image/image_cache.hpp"
#include "vm_manager/error.hpp"
#include "vmctl/commands.hpp"
#include "vmctl/vm_view.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

image::ImageCache open_cache(Context& ctx) { return image::ImageCache(ctx.image_cache_options()); }

std::string human_size(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4) {
    value /= 1024;
    ++unit;
  }
  return unit == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", value, kUnits[unit]);
}

nlohmann::json to_json(const image::CachedImage& image) {
  auto or_null = [](const std::string& text) { return text.empty() ? nlohmann::json() : nlohmann::json(text); };
  return nlohmann::json{{"key", image.key},
                        {"source", image.source},
                        {"path", image.path.string()},
                        {"format", image.format},
                        {"size", image.size},
                        {"sha256", image.sha256},
                        {"download_sha256", image.download_sha256},
                        {"compression", image.compression},
                        {"fetched_at", image.fetched_at},
                        {"manifest_digest", or_null(image.manifest_digest)},
                        {"blob_digest", or_null(image.blob_digest)}};
}

std::string human_details(const nlohmann::json& j) {
  std::string out;
  for (const auto& [key, value] : j.items()) {
    if (value.is_null()) continue;
    out += fmt::format("{:<16} {}\n", key + ":", value.is_string() ? value.get<std::string>() : value.dump());
  }
  return out;
}

void add_pull(CLI::App& image, Context& ctx) {
  auto source = std::make_shared<std::string>();
  auto sha256 = std::make_shared<std::optional<std::string>>();
  auto* cmd = image.add_subcommand("pull", "Download an image into the cache (URL or oci:// reference)");
  cmd->add_option("source", *source, "A local path, an http(s) URL or oci://REGISTRY/REPOSITORY:TAG|@sha256:DIGEST")
      ->required();
  cmd->add_option("--sha256", *sha256, "Expected SHA-256 of the downloaded bytes (64 hex digits)");
  cmd->callback([&ctx, source, sha256] {
    auto cache = open_cache(ctx);
    std::filesystem::path path = cache.pull(*source, *sha256);
    ctx.say(fmt::format("Pulled {}: {}", *source, path.string()));
  });
}

void add_list(CLI::App& image, Context& ctx) {
  auto json_output = std::make_shared<bool>(false);
  auto* cmd = image.add_subcommand("list", "List the cached images");
  cmd->add_flag("--json", *json_output, "Print a JSON array");
  cmd->callback([&ctx, json_output] {
    nlohmann::json all = nlohmann::json::array();
    std::vector<std::vector<std::string>> rows;
    for (const auto& entry : open_cache(ctx).list()) {
      all.push_back(to_json(entry));
      rows.push_back({entry.key.substr(0, image::ImageCache::kShortKey), entry.source, entry.format,
                      human_size(entry.size), entry.fetched_at});
    }
    std::string out =
        *json_output ? all.dump(2) + "\n" : render_table({"KEY", "SOURCE", "FORMAT", "SIZE", "FETCHED"}, rows);
    std::fputs(out.c_str(), stdout);
  });
}

void add_inspect(CLI::App& image, Context& ctx) {
  auto which = std::make_shared<std::string>();
  auto json_output = std::make_shared<bool>(false);
  auto* cmd = image.add_subcommand("inspect", "Show one cached image");
  cmd->add_option("image", *which, "The source it was pulled from, or its cache key (or a unique prefix of it)")
      ->required();
  cmd->add_flag("--json", *json_output, "Print a JSON object");
  cmd->callback([&ctx, which, json_output] {
    nlohmann::json j = to_json(open_cache(ctx).inspect(*which));
    std::string out = *json_output ? j.dump(2) + "\n" : human_details(j);
    std::fputs(out.c_str(), stdout);
  });
}

// The VMs of the store whose disk is based on `image` (sorted names).
std::vector<std::string> vms_using(Context& ctx, const std::filesystem::path& image) {
  std::set<std::string> names;
  std::error_code ec;
  auto same = [&](const std::string& path) {
    if (path.empty()) return false;
    if (std::filesystem::path(path).lexically_normal() == image.lexically_normal()) return true;
    return std::filesystem::equivalent(path, image, ec);
  };
  for (const auto& entry : ctx.store().list()) {
    if (!entry.record) continue;
    // The spec names the image the VM was made from (the backend keeps its
    // own resolved copy of that path in its state).
    if (same(entry.record->spec.image_path)) names.insert(entry.name);
  }
  return {names.begin(), names.end()};
}

void add_remove(CLI::App& image, Context& ctx) {
  auto which = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  auto* cmd = image.add_subcommand("rm", "Remove a cached image");
  cmd->add_option("image", *which, "The source it was pulled from, or its cache key (or a unique prefix of it)")
      ->required();
  cmd->add_flag("--force,-f", *force, "Remove it even when VMs use it (they will no longer start)");
  cmd->callback([&ctx, which, force] {
    auto cache = open_cache(ctx);
    std::optional<image::CachedImage> entry;
    try {
      entry = cache.inspect(*which);
    } catch (const Error& e) {
      if (e.code() != errc::image_not_found) throw;  // an incomplete entry is still removed below
    }
    if (entry && !*force) {
      std::vector<std::string> users = vms_using(ctx, entry->path);
      if (!users.empty()) {
        std::string list;
        for (const auto& name : users) list += (list.empty() ? "'" : ", '") + name + "'";
        throw Error(errc::image_in_use,
                    fmt::format("cached image {} ({}) is used by VM {}", entry->key.substr(0, image::ImageCache::kShortKey),
                                entry->source, list),
                    "destroy those VMs first, or pass --force to remove the image anyway");
      }
    }
    cache.remove(entry ? entry->key : *which);
    ctx.say(fmt::format("Removed {}", *which));
  });
}

}  // namespace

void add_image_command(CLI::App& app, Context& ctx) {
  auto* image = app.add_subcommand("image", "Manage the image cache (pull, list, inspect, rm)");
  image->require_subcommand(1);
  add_pull(*image, ctx);
  add_list(*image, ctx);
  add_inspect(*image, ctx);
  add_remove(*image, ctx);
}

}  // namespace vmctl
