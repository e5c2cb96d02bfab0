# Compiler options for the project's own code (tests, benchmarks, examples, the dispatch
# library), never for the mobilenext INTERFACE target that users link. Third-party headers come
# in as SYSTEM includes, so the warnings (and -Werror) judge only this project's code.
function(mobilenext_warning_options target)
  target_compile_options(${target} PRIVATE
    $<$<CXX_COMPILER_ID:GNU,Clang,AppleClang>:-Wall -Wextra -Wpedantic>
    # GCC 12 flags _mm512_undefined_ps inside its own AVX-512 headers (reached through
    # xsimd's min/max) as maybe-uninitialized; the warning is about the compiler's header.
    $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
  if(MOBILENEXT_WERROR)
    target_compile_options(${target} PRIVATE $<$<CXX_COMPILER_ID:GNU,Clang,AppleClang>:-Werror>)
  endif()
  if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
    target_compile_options(${target} PRIVATE -O2)
  endif()
endfunction()

# mobilenext_executable_options(<target> [NO_NATIVE_ARCH]): warnings as above and, with
# MOBILENEXT_NATIVE_ARCH, -march=native. NO_NATIVE_ARCH keeps a target at the compiler's
# baseline, as a user who passes no -m flag would build it.
function(mobilenext_executable_options target)
  cmake_parse_arguments(arg "NO_NATIVE_ARCH" "" "" ${ARGN})
  mobilenext_warning_options(${target})
  if(MOBILENEXT_NATIVE_ARCH AND NOT arg_NO_NATIVE_ARCH)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
endfunction()
