# Install rules: the library, its public headers under include/ds/..., the tools, and a CMake package so that a
# downstream project does find_package(ds) and target_link_libraries(app ds::ds). Internal headers (detail/, the
# kernels' folders) are not installed: the public ones include no Eigen, CUDA, fmt or spdlog.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS ds ds_distributed EXPORT dsTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

foreach(pair IN LISTS DS_INCLUDE_MAP)
  string(REPLACE "=" ";" kv ${pair})
  list(GET kv 0 alias)
  list(GET kv 1 folder)
  file(GLOB headers ${CMAKE_CURRENT_SOURCE_DIR}/${folder}/*.h)
  install(FILES ${headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ds/${alias})
endforeach()
# Public subfolders (internal ones, detail/ cpu/ cuda/, stay out).
foreach(sub IN ITEMS models/vision models/nlp)
  file(GLOB headers ${CMAKE_CURRENT_SOURCE_DIR}/${sub}/*.h)
  string(REPLACE "models/" "" rel ${sub})
  install(FILES ${headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ds/models/${rel})
endforeach()
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/framework/ds.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ds)

install(EXPORT dsTargets NAMESPACE ds:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ds)
configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/cmake/dsConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/dsConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ds)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/dsConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/dsConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/dsConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/ds)
