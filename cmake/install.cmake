# Install rules: the library, its headers, vmctl, a CMake package
# (find_package(vm-manager) -> vm-manager::vm-manager) and a pkg-config file.
include(CMakePackageConfigHelpers)

set(VMCTL_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/vm-manager)

install(TARGETS vm-manager EXPORT vm-manager-targets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS vmctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/vm_manager DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/include/vm_manager/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/vm_manager)

install(EXPORT vm-manager-targets NAMESPACE vm-manager:: DESTINATION ${VMCTL_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/vm-managerConfig.cmake.in
  ${PROJECT_BINARY_DIR}/vm-managerConfig.cmake INSTALL_DESTINATION ${VMCTL_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/vm-managerConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/vm-managerConfig.cmake ${PROJECT_BINARY_DIR}/vm-managerConfigVersion.cmake
        DESTINATION ${VMCTL_CMAKE_DIR})

# The .pc file finds its prefix relative to itself, so an install into any
# --prefix works.
file(RELATIVE_PATH VMCTL_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(${PROJECT_SOURCE_DIR}/cmake/vm-manager.pc.in ${PROJECT_BINARY_DIR}/vm-manager.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/vm-manager.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# Shell completions, written by the built vmctl from its own command
# definitions (`vmctl completion SHELL`), installed where each shell looks.
set(VMCTL_COMPLETION_DIR ${PROJECT_BINARY_DIR}/completions)
set(VMCTL_COMPLETION_FILES)
foreach(entry "bash|vmctl|bash-completion/completions" "zsh|_vmctl|zsh/site-functions"
              "fish|vmctl.fish|fish/vendor_completions.d")
  string(REPLACE "|" ";" entry "${entry}")
  list(GET entry 0 shell)
  list(GET entry 1 file)
  list(GET entry 2 folder)
  set(output ${VMCTL_COMPLETION_DIR}/${shell}/${file})
  add_custom_command(OUTPUT ${output}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${VMCTL_COMPLETION_DIR}/${shell}
    COMMAND ${CMAKE_COMMAND} -DVMCTL=$<TARGET_FILE:vmctl> -DSHELL_NAME=${shell} -DOUTPUT=${output}
            -P ${PROJECT_SOURCE_DIR}/cmake/write_completion.cmake
    DEPENDS vmctl ${PROJECT_SOURCE_DIR}/cmake/write_completion.cmake
    COMMENT "Writing the ${shell} completion of vmctl" VERBATIM)
  list(APPEND VMCTL_COMPLETION_FILES ${output})
  install(FILES ${output} DESTINATION ${CMAKE_INSTALL_DATADIR}/${folder})
endforeach()
add_custom_target(vmctl-completions ALL DEPENDS ${VMCTL_COMPLETION_FILES})
