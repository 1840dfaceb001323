# cmake -DVMCTL=<path> -P check_needed_libraries.cmake
#
# vmctl must start like a C program (cmake/startup.cmake): the only shared
# objects it records as needed are libc's. Anything else would be mapped and
# relocated at every start of every command; a library a command uses now
# and then is loaded on first use instead (src/os/shared_library.hpp).
cmake_policy(VERSION 3.25)
execute_process(COMMAND readelf -d ${VMCTL} OUTPUT_VARIABLE dynamic RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -d ${VMCTL} failed")
endif()
string(REGEX MATCHALL "Shared library: \\[[^]]+\\]" entries "${dynamic}")
set(needed "")
foreach(entry IN LISTS entries)
  string(REGEX REPLACE "Shared library: \\[(.*)\\]" "\\1" library "${entry}")
  list(APPEND needed ${library})
endforeach()
set(allowed libc.so.6 libm.so.6 ld-linux-x86-64.so.2 ld-linux-aarch64.so.1)
set(unexpected "")
foreach(library IN LISTS needed)
  if(NOT library IN_LIST allowed)
    list(APPEND unexpected ${library})
  endif()
endforeach()
if(NOT needed)
  message(FATAL_ERROR "readelf -d ${VMCTL} shows no needed library at all: not a dynamic executable?")
endif()
if(unexpected)
  message(FATAL_ERROR "vmctl needs shared libraries beyond libc's at start-up: ${unexpected}")
endif()
message(STATUS "vmctl needs only: ${needed}")
