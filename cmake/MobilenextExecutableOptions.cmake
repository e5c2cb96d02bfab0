# Compiler options for the project's own executables (tests, benchmarks, examples), never for
# the mobilenext INTERFACE target that users link.
function(mobilenext_executable_options target)
  target_compile_options(${target} PRIVATE
    $<$<CXX_COMPILER_ID:GNU,Clang>:-Wall -Wextra -Wpedantic>
    # GCC 12 flags _mm512_undefined_ps inside its own AVX-512 headers (reached through
    # xsimd's min/max) as maybe-uninitialized; the warning is about the compiler's header.
    $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
  if(MOBILENEXT_NATIVE_ARCH)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
  if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
    target_compile_options(${target} PRIVATE -O2)
  endif()
endfunction()
