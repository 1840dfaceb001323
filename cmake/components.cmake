# The library's layers, enforced by the build.
#
# vmctl_component(<dir> SOURCES <files…> [DEPENDS <dirs…>] [PRIVATE_DEPENDS <dirs…>]
#                 [PUBLIC_HEADERS <names…>]
#                 [LIBS <libraries…>] [EXCLUDE_FROM_ALL] [EXECUTABLE <name>])
#
# Declares the component in src/<dir> as the static library vmm-<dir with '/'
# turned into '-'> (or, with EXECUTABLE, as that program). Its sources are compiled against a "layer view": a folder
# in the build tree holding links to its own folder, to the folders of the
# components it depends on (directly or through them), and to the public
# headers (include/vm_manager/<name>) those components own. Nothing else is on
# its include path, so including a header of a component it does not depend on
# fails to compile. DEPENDS names components declared before it, which keeps
# the graph bottom-up; a cycle cannot be written down. What it DEPENDS on its
# own dependents see too (its headers use them); what it PRIVATE_DEPENDS on
# only it sees: the router builds the backends, but nothing above the router
# may name one.
#
# Every component is compiled position-independent with hidden visibility:
# the same objects go into the static vmctl and into libvm-manager.so, which
# exports only what VM_MANAGER_API marks.

set(VMCTL_LAYERS_DIR ${PROJECT_BINARY_DIR}/layers)
file(REMOVE_RECURSE ${VMCTL_LAYERS_DIR})
set_property(GLOBAL PROPERTY VMCTL_COMPONENTS "")

function(vmctl_component_target dir out)
  string(REPLACE "/" "-" name "${dir}")
  set(${out} vmm-${name} PARENT_SCOPE)
endfunction()

# Links `target` inside `view` at the relative path `rel`.
function(vmctl_view_link view rel target)
  get_filename_component(parent "${view}/${rel}" DIRECTORY)
  file(MAKE_DIRECTORY "${parent}")
  file(CREATE_LINK "${target}" "${view}/${rel}" SYMBOLIC)
endfunction()

function(vmctl_component dir)
  cmake_parse_arguments(ARG "EXCLUDE_FROM_ALL" "EXECUTABLE" "SOURCES;DEPENDS;PRIVATE_DEPENDS;PUBLIC_HEADERS;LIBS" ${ARGN})
  vmctl_component_target("${dir}" target)
  if(ARG_EXECUTABLE)
    set(target ${ARG_EXECUTABLE})
  endif()

  # What its dependents may see through it (itself and what it DEPENDS on),
  # and what it sees itself (that plus what it PRIVATE_DEPENDS on).
  set(closure "${dir}")
  set(private_closure "")
  get_property(declared GLOBAL PROPERTY VMCTL_COMPONENTS)
  foreach(dep IN LISTS ARG_DEPENDS ARG_PRIVATE_DEPENDS)
    if(NOT dep IN_LIST declared)
      message(FATAL_ERROR "component ${dir} depends on ${dep}, which is not declared before it")
    endif()
    get_property(dep_closure GLOBAL PROPERTY VMCTL_CLOSURE_${dep})
    if(dep IN_LIST ARG_DEPENDS)
      list(APPEND closure ${dep_closure})
    else()
      list(APPEND private_closure ${dep_closure})
    endif()
  endforeach()
  list(REMOVE_DUPLICATES closure)
  set_property(GLOBAL PROPERTY VMCTL_CLOSURE_${dir} "${closure}")
  set_property(GLOBAL PROPERTY VMCTL_PUBLIC_HEADERS_${dir} "${ARG_PUBLIC_HEADERS}")
  list(APPEND private_closure ${closure})
  list(REMOVE_DUPLICATES private_closure)

  set(view ${VMCTL_LAYERS_DIR}/${target})
  foreach(seen IN LISTS private_closure)
    vmctl_view_link(${view} "${seen}" "${PROJECT_SOURCE_DIR}/src/${seen}")
    get_property(headers GLOBAL PROPERTY VMCTL_PUBLIC_HEADERS_${seen})
    foreach(header IN LISTS headers)
      if(header STREQUAL "version.hpp")
        vmctl_view_link(${view} "vm_manager/${header}" "${PROJECT_BINARY_DIR}/include/vm_manager/${header}")
      else()
        vmctl_view_link(${view} "vm_manager/${header}" "${PROJECT_SOURCE_DIR}/include/vm_manager/${header}")
      endif()
    endforeach()
  endforeach()

  if(ARG_EXECUTABLE)
    add_executable(${target} ${ARG_SOURCES})
  elseif(ARG_EXCLUDE_FROM_ALL)
    add_library(${target} STATIC EXCLUDE_FROM_ALL ${ARG_SOURCES})
  else()
    add_library(${target} STATIC ${ARG_SOURCES})
    set_property(GLOBAL APPEND PROPERTY VMCTL_COMPONENTS "${dir}")
  endif()
  set_target_properties(${target} PROPERTIES
    POSITION_INDEPENDENT_CODE ON
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_include_directories(${target} PRIVATE ${view})
  target_compile_features(${target} PUBLIC cxx_std_20)
  foreach(dep IN LISTS ARG_DEPENDS)
    vmctl_component_target("${dep}" dep_target)
    target_link_libraries(${target} PUBLIC ${dep_target})
  endforeach()
  foreach(dep IN LISTS ARG_PRIVATE_DEPENDS)
    vmctl_component_target("${dep}" dep_target)
    target_link_libraries(${target} PRIVATE ${dep_target})
  endforeach()
  if(ARG_LIBS)
    target_link_libraries(${target} PUBLIC ${ARG_LIBS})
    if(NOT ARG_EXCLUDE_FROM_ALL AND NOT ARG_EXECUTABLE)
      set_property(GLOBAL APPEND PROPERTY VMCTL_COMPONENT_LIBS ${ARG_LIBS})
    endif()
  endif()
endfunction()

# The targets of every component declared so far (not the EXCLUDE_FROM_ALL
# probes), bottom-up.
function(vmctl_component_targets out)
  get_property(components GLOBAL PROPERTY VMCTL_COMPONENTS)
  set(targets "")
  foreach(dir IN LISTS components)
    vmctl_component_target("${dir}" target)
    list(APPEND targets ${target})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# vmctl_backend(<id> SOURCES … [DEPENDS …] [LIBS …]): the backend in
# src/backends/<id>/, a component like any other. Its register.cpp defines
# `void register_<id>_backend(BackendRegistry&)`, which the router calls
# (src/router/CMakeLists.txt generates the list of calls).
function(vmctl_backend id)
  vmctl_component(backends/${id} ${ARGN})
  set_property(GLOBAL APPEND PROPERTY VMCTL_BACKENDS ${id})
endfunction()
