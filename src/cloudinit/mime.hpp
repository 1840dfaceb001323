// Combining vmctl's generated cloud-config with the user's own user-data
// into one cloud-init multipart MIME archive.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace vm_manager::cloudinit {

// cloud-init's merge rule on our parts: the user's lists are appended to
// ours and the user's keys never replace ours.
inline constexpr std::string_view kMergeType = "list(append)+dict(no_replace,recurse_list)+str()";

struct MimePart {
  std::string content_type;  // "text/cloud-config", "text/x-shellscript", …
  std::string content;
  std::string merge_type;    // "Merge-Type" header when non-empty
};

// The MIME type cloud-init gives user-data by its first line:
//   "#cloud-config" → text/cloud-config, "#!" → text/x-shellscript,
//   "#include" → text/x-include-url, "#include-once" → text/x-include-once-url,
//   "#cloud-boothook" → text/cloud-boothook,
//   anything else that parses as a YAML mapping → text/cloud-config.
// Raises cloudinit::invalid_user_data for MIME archives, compressed or
// binary data, and text cloud-init would not run.
std::string detect_content_type(std::string_view user_data);

// "MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=…" with a
// boundary that occurs in no part. Parts that are not plain 7-bit text
// (non-ASCII, CR, NUL, lines over 998 bytes) are base64-encoded.
std::string make_multipart(const std::vector<MimePart>& parts);

// The generated cloud-config first, then the user's user-data as its
// detected type; cloud-config parts carry Merge-Type kMergeType. Empty
// user-data gives the generated cloud-config unchanged.
std::string combine_user_data(std::string_view generated_cloud_config, std::string_view user_data);

}  // namespace vm_manager::cloudinit
