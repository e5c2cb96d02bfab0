# Install rules: the headers, the targets (mobilenext::mobilenext and, when built,
# mobilenext::dispatch and mobilenext::image), a CMake package (find_package(mobilenext)) and pkg-config files.
include(CMakePackageConfigHelpers)

# Arch-dependent location: the package may carry the compiled dispatch library.
set(MOBILENEXT_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/mobilenext"
    CACHE STRING "Where mobilenextConfig.cmake is installed, relative to the prefix")
set(MOBILENEXT_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_LIBDIR}/pkgconfig"
    CACHE STRING "Where mobilenext.pc is installed, relative to the prefix")

set(mobilenext_install_targets mobilenext)
foreach(component dispatch image)
  if(TARGET mobilenext_${component})
    list(APPEND mobilenext_install_targets mobilenext_${component})
  endif()
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/mobilenext DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.hpp")

install(TARGETS ${mobilenext_install_targets} EXPORT mobilenextTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT mobilenextTargets NAMESPACE mobilenext:: DESTINATION ${MOBILENEXT_INSTALL_CMAKEDIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mobilenextConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/mobilenextConfig.cmake
                              INSTALL_DESTINATION ${MOBILENEXT_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mobilenextConfigVersion.cmake
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mobilenextConfig.cmake ${PROJECT_BINARY_DIR}/mobilenextConfigVersion.cmake
        DESTINATION ${MOBILENEXT_INSTALL_CMAKEDIR})

# pkg-config files locate the prefix from their own directory (${pcfiledir}), so they stay
# right when the tree is installed with `cmake --install --prefix` or moved.
if(IS_ABSOLUTE "${MOBILENEXT_INSTALL_PKGCONFIGDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}"
   OR IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(mobilenext_pc_prefix "${CMAKE_INSTALL_PREFIX}")
  set(mobilenext_pc_includedir "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
  set(mobilenext_pc_libdir "${CMAKE_INSTALL_FULL_LIBDIR}")
else()
  file(RELATIVE_PATH mobilenext_pc_up "/prefix/${MOBILENEXT_INSTALL_PKGCONFIGDIR}" "/prefix")
  string(REGEX REPLACE "/$" "" mobilenext_pc_up "${mobilenext_pc_up}")
  set(mobilenext_pc_prefix "\${pcfiledir}/${mobilenext_pc_up}")
  set(mobilenext_pc_includedir "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
  set(mobilenext_pc_libdir "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/mobilenext.pc.in ${PROJECT_BINARY_DIR}/mobilenext.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mobilenext.pc DESTINATION ${MOBILENEXT_INSTALL_PKGCONFIGDIR})
if(TARGET mobilenext_dispatch)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/mobilenext-dispatch.pc.in ${PROJECT_BINARY_DIR}/mobilenext-dispatch.pc
                 @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/mobilenext-dispatch.pc DESTINATION ${MOBILENEXT_INSTALL_PKGCONFIGDIR})
endif()
