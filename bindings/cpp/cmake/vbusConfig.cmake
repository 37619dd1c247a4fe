# find_package(vbus): the imported target vbus::vbus (libvbus.so, the C and C++ headers and the
# FlatBuffers headers flatc's C++ output needs) and vbus_generate(), which runs vbus-codegen on
# .fbs schemas at build time:
#
#   vbus_generate(<var> NAME <name> FBS <file.fbs>... [INCLUDES <dir>...])
#
# writes <name>_generated.h (flatc's C++ types) and <name>.vbus.hpp (topic and service
# descriptors) into ${CMAKE_CURRENT_BINARY_DIR}/vbus_gen/<name>, sets <var> to the two headers
# (list them among the target's sources) and <var>_DIR to their directory (add it to the
# target's include directories).
get_filename_component(_vbus_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET vbus::vbus)
  add_library(vbus::vbus SHARED IMPORTED)
  set_target_properties(vbus::vbus PROPERTIES
    IMPORTED_LOCATION "${_vbus_prefix}/lib/libvbus.so"
    INTERFACE_INCLUDE_DIRECTORIES "${_vbus_prefix}/include"
    INTERFACE_COMPILE_FEATURES cxx_std_17)
endif()

set(VBUS_CODEGEN "${_vbus_prefix}/bin/vbus-codegen" CACHE FILEPATH "vbus-codegen")
set(VBUS_FLATC "${_vbus_prefix}/bin/flatc" CACHE FILEPATH "flatc 23.5.26 (the one vbus-codegen is tested with)")

function(vbus_generate out_var)
  cmake_parse_arguments(VG "" "NAME" "FBS;INCLUDES" ${ARGN})
  if(NOT VG_NAME OR NOT VG_FBS)
    message(FATAL_ERROR "vbus_generate: expected NAME <name> FBS <file.fbs>..., found `${ARGN}`")
  endif()
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/vbus_gen/${VG_NAME}")
  set(headers "${dir}/${VG_NAME}_generated.h" "${dir}/${VG_NAME}.vbus.hpp")
  set(inc_args)
  foreach(i IN LISTS VG_INCLUDES)
    list(APPEND inc_args -I "${i}")
  endforeach()
  add_custom_command(
    OUTPUT ${headers}
    COMMAND "${VBUS_CODEGEN}" fbs ${VG_FBS} ${inc_args} --out "${dir}" --name "${VG_NAME}"
            --cpp --no-rust --flatc "${VBUS_FLATC}"
    DEPENDS ${VG_FBS}
    COMMENT "vbus-codegen: ${VG_NAME} (C++)"
    VERBATIM)
  set(${out_var} ${headers} PARENT_SCOPE)
  set(${out_var}_DIR "${dir}" PARENT_SCOPE)
endfunction()
