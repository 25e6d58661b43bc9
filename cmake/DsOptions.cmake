# Build options of ds, the compiler flags every target shares, and ccache.
set(DS_CUDA AUTO CACHE STRING "Build the CUDA backend: AUTO (when nvcc is found), ON or OFF")
set_property(CACHE DS_CUDA PROPERTY STRINGS AUTO ON OFF)
set(DS_CUDA_ARCHS 90 CACHE STRING "CUDA architectures to compile for (CMAKE_CUDA_ARCHITECTURES syntax)")
option(DS_NATIVE "Compile for this machine's CPU (-march=native)" ON)
set(DS_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. address,undefined")
option(DS_BUILD_TESTS "Build the tests" ON)
option(DS_BUILD_BENCHMARKS "Build the benchmarks" ON)

set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

find_program(DS_CCACHE ccache)
if(DS_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${DS_CCACHE})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${DS_CCACHE})
endif()

# Flags for ds's own targets (not exported to users of the installed library).
add_library(ds_flags INTERFACE)
target_compile_options(ds_flags INTERFACE
  # Designated initialisers leave fields at their defaults on purpose (op rows): no missing-initializer warnings.
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Werror=switch
                            -Werror=return-type>
  # thread_locals on the op path (grad mode, caches) are read without a __tls_get_addr call; ds is linked, not
  # dlopen()ed, so the initial-exec model is safe.
  $<$<COMPILE_LANGUAGE:CXX>:-ftls-model=initial-exec>)
if(DS_NATIVE)
  target_compile_options(ds_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()
if(DS_SANITIZE)
  target_compile_options(ds_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${DS_SANITIZE} -fno-omit-frame-pointer
    -fno-sanitize-recover=all>)
  target_link_options(ds_flags INTERFACE -fsanitize=${DS_SANITIZE})
endif()
