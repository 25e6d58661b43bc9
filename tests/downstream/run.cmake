# Installs the built ds into a fresh prefix, then configures, builds and runs tests/downstream against it.
# cmake -DDS_BUILD_DIR=... -DDS_SOURCE_DIR=... -DWORK_DIR=... [-DDS_SANITIZE=...] -P run.cmake
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${DS_BUILD_DIR} --prefix ${WORK_DIR}/prefix
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(rc)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
# A sanitized ds needs a sanitized program (the sanitizer runtime must be linked first), as a user's would be.
set(extra)
if(DS_SANITIZE)
  list(APPEND extra -DCMAKE_CXX_FLAGS=-fsanitize=${DS_SANITIZE} -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${DS_SANITIZE})
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -S ${DS_SOURCE_DIR}/tests/downstream -B ${WORK_DIR}/build -G Ninja
                        -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release ${extra}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "configuring the downstream project failed:\n${out}\n${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}/build RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc)
  message(FATAL_ERROR "building the downstream project failed:\n${out}\n${err}")
endif()
execute_process(COMMAND ${WORK_DIR}/build/app RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message(STATUS "${out}${err}")
if(rc)
  message(FATAL_ERROR "the downstream program failed (${rc})")
endif()
