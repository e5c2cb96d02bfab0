# Cross compiling for 64-bit ARM Linux with Debian's cross toolchain (g++-aarch64-linux-gnu),
# running target programs (GoogleTest discovery, ctest) under QEMU user-mode emulation:
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
# tools/check_aarch64.sh does this and runs the unit tests.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(MOBILENEXT_CROSS_TRIPLET aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${MOBILENEXT_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${MOBILENEXT_CROSS_TRIPLET}-g++)

# Libraries come from the target's tree only; programs (python, qemu) from the host.
set(CMAKE_FIND_ROOT_PATH /usr/${MOBILENEXT_CROSS_TRIPLET})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
# Headers and CMake packages may be the host's: Eigen, xsimd and nlohmann_json are header-only,
# the same files for every target (and the cross compiler searches /usr/include last).
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
# Debian keeps xsimd's (header-only) CMake package in the host's multiarch directory, which a
# search for the target's architecture does not look into.
if(NOT DEFINED xsimd_DIR)
  file(GLOB mobilenext_xsimd_configs /usr/lib/*/cmake/xsimd/xsimdConfig.cmake)
  if(mobilenext_xsimd_configs)
    list(GET mobilenext_xsimd_configs 0 mobilenext_xsimd_config)
    get_filename_component(xsimd_DIR ${mobilenext_xsimd_config} DIRECTORY)
  endif()
endif()

find_program(MOBILENEXT_QEMU_AARCH64 qemu-aarch64)
if(MOBILENEXT_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${MOBILENEXT_QEMU_AARCH64} -L /usr/${MOBILENEXT_CROSS_TRIPLET})
endif()
