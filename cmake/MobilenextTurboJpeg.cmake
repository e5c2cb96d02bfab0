# libjpeg-turbo's TurboJPEG API, which decodes JPEG files for the command-line tool and the
# image fuzz target (Debian: libturbojpeg0-dev). Defines mobilenext_turbojpeg when found.
if(NOT TARGET mobilenext_turbojpeg)
  find_path(MOBILENEXT_TURBOJPEG_INCLUDE_DIR turbojpeg.h)
  find_library(MOBILENEXT_TURBOJPEG_LIBRARY turbojpeg)
  if(MOBILENEXT_TURBOJPEG_INCLUDE_DIR AND MOBILENEXT_TURBOJPEG_LIBRARY)
    add_library(mobilenext_turbojpeg INTERFACE)
    target_include_directories(mobilenext_turbojpeg SYSTEM INTERFACE ${MOBILENEXT_TURBOJPEG_INCLUDE_DIR})
    target_link_libraries(mobilenext_turbojpeg INTERFACE ${MOBILENEXT_TURBOJPEG_LIBRARY})
  endif()
endif()
