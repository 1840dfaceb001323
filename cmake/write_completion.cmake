# cmake -DVMCTL=<vmctl> -DSHELL_NAME=<bash|zsh|fish> -DOUTPUT=<file> -P write_completion.cmake:
# writes `vmctl completion <shell>` to <file> (install.cmake's build step).
execute_process(COMMAND ${VMCTL} completion ${SHELL_NAME} OUTPUT_FILE ${OUTPUT} RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  file(REMOVE ${OUTPUT})
  message(FATAL_ERROR "vmctl completion ${SHELL_NAME} failed: ${result}")
endif()
