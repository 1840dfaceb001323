# How vmctl is linked so that it starts like a C program.
#
# The dynamic loader maps and relocates every shared library a program needs,
# with all of theirs, at each start. Measured on an empty main() (median of
# whole-process runs; /bin/true 0.53 ms): shared libstdc++ +0.45 ms,
# libfmt+libspdlog +0.22, libyaml-cpp +0.19, libssh (with OpenSSL and
# Kerberos) +1.22, libisofs+zstd+xz+zlib +0.42. So vmctl needs only libc and
# libm at start-up:
#   - the C libraries the commands use now and then (libcurl, libssh,
#     libisofs, zstd, xz, zlib, libcrypto) are loaded on first use
#     (src/os/shared_library.hpp), never linked;
#   - libstdc++ and libgcc are linked statically (-static-libstdc++
#     -static-libgcc), and so is yaml-cpp (libyaml-cpp.a);
#   - fmt's and spdlog's code is compiled into vmctl (src/vmctl/static_fmt_spdlog.cpp);
#   - -Wl,--as-needed drops the shared libraries nothing references any more.
# Not in the sanitizer build: ASan wants the shared runtime. libvm-manager.so
# keeps linking the shared libraries; its embedders pay for it once, in
# their own start.

find_library(VMCTL_YAML_CPP_STATIC NAMES libyaml-cpp.a)

if(VMCTL_SANITIZE OR NOT VMCTL_YAML_CPP_STATIC)
  set(VMCTL_YAML_CPP PkgConfig::YAMLCPP)
else()
  # yaml-cpp as the consumer links it: the static archive into a target that
  # sets VMCTL_STATIC_CXX (vmctl), the shared library into anything else.
  set(VMCTL_YAML_CPP
      "$<IF:$<BOOL:$<TARGET_PROPERTY:VMCTL_STATIC_CXX>>,${VMCTL_YAML_CPP_STATIC},PkgConfig::YAMLCPP>")
endif()

# vmctl_link_for_startup(<executable>): the link settings above.
function(vmctl_link_for_startup target)
  target_link_options(${target} PRIVATE -Wl,--as-needed -Wl,-O1)
  if(NOT VMCTL_SANITIZE)
    set_target_properties(${target} PROPERTIES VMCTL_STATIC_CXX ON)
    target_link_options(${target} PRIVATE -static-libstdc++ -static-libgcc)
  endif()
endfunction()
