# cmake -DBUILD=<build dir> -DWORK=<scratch dir> -P check_completion_install.cmake:
# `cmake --install` into DESTDIR=WORK with prefix /usr/local puts vmctl's
# three completion scripts where bash, zsh and fish look, each the output
# of the installed vmctl's `vmctl completion SHELL`.
file(REMOVE_RECURSE ${WORK})
set(ENV{DESTDIR} ${WORK})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD} --prefix /usr/local
                RESULT_VARIABLE result OUTPUT_QUIET ERROR_VARIABLE errors)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "cmake --install failed: ${errors}")
endif()
set(root ${WORK}/usr/local)
foreach(entry "bash|share/bash-completion/completions/vmctl" "zsh|share/zsh/site-functions/_vmctl"
              "fish|share/fish/vendor_completions.d/vmctl.fish")
  string(REPLACE "|" ";" entry "${entry}")
  list(GET entry 0 shell)
  list(GET entry 1 path)
  if(NOT EXISTS ${root}/${path})
    message(FATAL_ERROR "the ${shell} completion is not installed at ${path}")
  endif()
  file(READ ${root}/${path} installed)
  execute_process(COMMAND ${root}/bin/vmctl completion ${shell} OUTPUT_VARIABLE printed RESULT_VARIABLE result)
  if(NOT result EQUAL 0 OR NOT installed STREQUAL printed)
    message(FATAL_ERROR "${path} is not what the installed `vmctl completion ${shell}` prints")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK})
message(STATUS "the bash, zsh and fish completions are installed")
