// vmctl image pull|list|inspect|rm: the manager's image cache (vm_manager/images.hpp).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "vm_manager/error.hpp"
#include "vmctl/commands.hpp"
#include "vmctl/vm_view.hpp"

namespace vmctl {
using namespace vm_manager;
namespace {

Images& images(Context& ctx) { return ctx.manager().images(); }

nlohmann::json to_json(const ImageInfo& image) {
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

nlohmann::json to_json(const ImageFileInfo& file) {
  auto or_null = [](const std::string& text) { return text.empty() ? nlohmann::json() : nlohmann::json(text); };
  return nlohmann::json{{"path", file.path.string()},
                        {"format", file.format},
                        {"virtual_size", file.virtual_size},
                        {"actual_size", file.actual_size},
                        {"backing_file", or_null(file.backing_file)},
                        {"backing_format", or_null(file.backing_format)}};
}

// A cached image by its source, name or key; else any image file by its path.
nlohmann::json inspect_json(Context& ctx, const std::string& which) {
  try {
    return to_json(images(ctx).inspect(which));
  } catch (const Error& e) {
    std::error_code ec;
    if (e.code() != errc::image_not_found || !std::filesystem::is_regular_file(which, ec)) throw;
  }
  return to_json(images(ctx).inspect_file(which));
}

void add_pull(CLI::App& image, Context& ctx) {
  auto source = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>();
  auto sha256 = std::make_shared<std::optional<std::string>>();
  auto* cmd = image.add_subcommand("pull", "Download an image into the cache (URL or oci:// reference)");
  cmd->add_option("source", *source, "A local path, an http(s) URL or oci://REGISTRY/REPOSITORY:TAG|@sha256:DIGEST")
      ->required();
  cmd->add_option("--sha256", *sha256, "Expected SHA-256 of the downloaded bytes (64 hex digits)");
  cmd->add_option("--name", *name,
                  "Also give the image this name, usable as --image-url NAME and image-url \"NAME\" in VMFiles "
                  "(1-63 of [A-Za-z0-9_.-]; naming again replaces)");
  cmd->callback([&ctx, source, name, sha256] {
    std::filesystem::path path = images(ctx).pull(*source, *sha256, ctx.download_progress());
    ctx.say(fmt::format("Pulled {}: {}", *source, path.string()));
    if (name->empty()) return;
    images(ctx).name(*name, *source);
    ctx.say(fmt::format("Named it {}", *name));
  });
}

void add_list(CLI::App& image, Context& ctx) {
  auto json_output = std::make_shared<bool>(false);
  auto* cmd = image.add_subcommand("list", "List the cached images");
  cmd->add_flag("--json", *json_output, "Print a JSON array");
  cmd->callback([&ctx, json_output] {
    nlohmann::json all = nlohmann::json::array();
    std::vector<std::vector<std::string>> rows;
    for (const auto& entry : images(ctx).list()) {
      all.push_back(to_json(entry));
      rows.push_back({entry.key.substr(0, Images::kShortKey), entry.source, entry.format,
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
  auto* cmd = image.add_subcommand("inspect", "Show a cached image, or any image file (format, sizes, backing file)");
  cmd->add_option("image",
                  *which,
                  "The source it was pulled from, its name, its cache key (or a unique prefix of it), or the path "
                  "of any image file")
      ->required();
  cmd->add_flag("--json", *json_output, "Print a JSON object");
  cmd->callback([&ctx, which, json_output] {
    nlohmann::json j = inspect_json(ctx, *which);
    std::string out = *json_output ? j.dump(2) + "\n" : human_details(j);
    std::fputs(out.c_str(), stdout);
  });
}

void add_remove(CLI::App& image, Context& ctx) {
  auto which = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  auto* cmd = image.add_subcommand("rm", "Remove a cached image");
  cmd->add_option("image", *which, "The source it was pulled from, or its cache key (or a unique prefix of it)")
      ->required();
  cmd->add_flag("--force,-f", *force, "Remove it even when VMs use it (they will no longer start)");
  cmd->callback([&ctx, which, force] {
    try {
      images(ctx).remove(*which, /*even_if_used=*/*force);
    } catch (const Error& e) {
      if (e.code() != errc::image_in_use) throw;
      throw Error(e.code(), e.message(), "destroy those VMs first, or pass --force to remove the image anyway");
    }
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
