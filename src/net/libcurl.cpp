// Why libcurl is loaded with dlopen instead of linked: linking it makes the
// dynamic loader map and initialise libcurl.so and its ~30 dependencies
// (TLS, HTTP/2, IDN, LDAP, SSH, Kerberos…) at every start of vmctl, ~3 ms,
// while most commands (--version, status, list, start) never talk HTTP and
// are meant to start in about 1 ms. So only the commands that make a request
// pay for it, on their first request.
#include "net/libcurl.hpp"

#include <string>

#include <fmt/format.h>

#include "os/shared_library.hpp"
#include "vm_manager/error.hpp"

namespace vm_manager::net {
namespace {

[[noreturn]] void unavailable(const std::string& why) {
  throw Error(errc::net_unavailable, fmt::format("cannot use HTTP: cannot load libcurl ({})", why),
              "install libcurl4 (apt-get install libcurl4), which vmctl loads for downloads and HTTP APIs");
}

LibCurl load_and_initialise() {
  LibCurl api = load_libcurl(kLibCurlSoname);
  // Not thread-safe in older libcurls; LazyLibrary makes it run once, first.
  if (CURLcode rc = api.global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
    unavailable(fmt::format("curl_global_init: {}", api.easy_strerror(rc)));
  }
  return api;
}

}  // namespace

LibCurl load_libcurl(const char* soname) {
  const os::SharedLibrary library(soname, unavailable);
  LibCurl api;
  library.resolve("curl_global_init", api.global_init);
  library.resolve("curl_easy_init", api.easy_init);
  library.resolve("curl_easy_setopt", api.easy_setopt);
  library.resolve("curl_easy_perform", api.easy_perform);
  library.resolve("curl_easy_getinfo", api.easy_getinfo);
  library.resolve("curl_easy_cleanup", api.easy_cleanup);
  library.resolve("curl_easy_strerror", api.easy_strerror);
  library.resolve("curl_slist_append", api.slist_append);
  library.resolve("curl_slist_free_all", api.slist_free_all);
  return api;
}

const LibCurl& libcurl() {
  static os::LazyLibrary<LibCurl> library(load_and_initialise);
  return library.get();
}

}  // namespace vm_manager::net
