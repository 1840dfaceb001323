// Why libcurl is loaded with dlopen instead of linked: linking it makes the
// dynamic loader map and initialise libcurl.so and its ~30 dependencies
// (TLS, HTTP/2, IDN, LDAP, SSH, Kerberos…) at every start of vmctl, ~3 ms,
// while most commands (--version, status, list, start) never talk HTTP and
// are meant to start in about 1 ms. So only the commands that make a request
// pay for it, on their first request.
#include "net/libcurl.hpp"

#include <dlfcn.h>

#include <mutex>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "vm_manager/error.hpp"

namespace vm_manager::net {
namespace {

[[noreturn]] void unavailable(const std::string& why) {
  throw Error(errc::net_unavailable, fmt::format("cannot use HTTP: cannot load libcurl ({})", why),
              "install libcurl4 (apt-get install libcurl4), which vmctl loads for downloads and HTTP APIs");
}

template <typename Function>
void resolve(void* library, const char* name, Function& out) {
  void* symbol = ::dlsym(library, name);
  if (symbol == nullptr) unavailable(fmt::format("{} has no {}", kLibCurlSoname, name));
  out = reinterpret_cast<Function>(symbol);
}

}  // namespace

LibCurl load_libcurl(const char* soname) {
  // RTLD_LOCAL: its symbols stay out of the global namespace, where they
  // could interpose on another copy of curl that a host program links.
  void* library = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = ::dlerror();
    unavailable(why != nullptr ? why : soname);
  }
  // Never closed: libcurl keeps global state (TLS) for the whole process.
  LibCurl api;
  resolve(library, "curl_global_init", api.global_init);
  resolve(library, "curl_easy_init", api.easy_init);
  resolve(library, "curl_easy_setopt", api.easy_setopt);
  resolve(library, "curl_easy_perform", api.easy_perform);
  resolve(library, "curl_easy_getinfo", api.easy_getinfo);
  resolve(library, "curl_easy_cleanup", api.easy_cleanup);
  resolve(library, "curl_easy_strerror", api.easy_strerror);
  resolve(library, "curl_slist_append", api.slist_append);
  resolve(library, "curl_slist_free_all", api.slist_free_all);
  return api;
}

const LibCurl& libcurl() {
  static std::once_flag once;
  static LibCurl api;
  static std::optional<Error> failure;  // kept: every request says why, not only the first
  std::call_once(once, [] {
    try {
      api = load_libcurl(kLibCurlSoname);
      // Not thread-safe in older libcurls; call_once makes it run once, first.
      if (CURLcode rc = api.global_init(CURL_GLOBAL_DEFAULT); rc != CURLE_OK) {
        unavailable(fmt::format("curl_global_init: {}", api.easy_strerror(rc)));
      }
    } catch (const Error& e) {
      failure = e;
    }
  });
  if (failure) throw *failure;
  return api;
}

}  // namespace vm_manager::net
