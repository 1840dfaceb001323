// libcurl's functions, resolved from libcurl.so.4 when first needed.
#pragma once

#include <curl/curl.h>

namespace vm_manager::net {

// The functions net/ uses, with the prototypes of curl's own headers
// (decltype names them without making the linker look for them).
struct LibCurl {
  decltype(&::curl_global_init) global_init = nullptr;
  decltype(&::curl_easy_init) easy_init = nullptr;
  decltype(&::curl_easy_setopt) easy_setopt = nullptr;
  decltype(&::curl_easy_perform) easy_perform = nullptr;
  decltype(&::curl_easy_getinfo) easy_getinfo = nullptr;
  decltype(&::curl_easy_cleanup) easy_cleanup = nullptr;
  decltype(&::curl_easy_strerror) easy_strerror = nullptr;
  decltype(&::curl_slist_append) slist_append = nullptr;
  decltype(&::curl_slist_free_all) slist_free_all = nullptr;
};

inline constexpr const char* kLibCurlSoname = "libcurl.so.4";

// libcurl.so.4, loaded and initialised on the first call (once, whichever
// thread comes first); later calls return the same table. Raises
// Error(net::unavailable), on this and every later call, when it cannot be
// loaded.
const LibCurl& libcurl();

// Loads `soname` and resolves the table, without initialising or caching
// anything: libcurl()'s work, apart for tests. Raises Error(net::unavailable).
LibCurl load_libcurl(const char* soname);

}  // namespace vm_manager::net
