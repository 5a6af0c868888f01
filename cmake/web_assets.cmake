# Embeds the web page (web/*) into ma_serve (the server room), so `magicanimate serve`
# needs no files at run time. Include after ma_serve is defined:
#   include(cmake/web_assets.cmake)
# Without it the server reads the page from MA_WEB_DIR (the source tree's web/).
file(GLOB MA_WEB_FILES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/web/*)
set(MA_WEB_EMBEDDED_INC ${CMAKE_BINARY_DIR}/generated/web_embedded.inc)
add_custom_command(
  OUTPUT ${MA_WEB_EMBEDDED_INC}
  COMMAND ${CMAKE_COMMAND} -DDIR=${CMAKE_SOURCE_DIR}/web -DOUTPUT=${MA_WEB_EMBEDDED_INC}
          -P ${CMAKE_SOURCE_DIR}/cmake/embed_files.cmake
  DEPENDS ${MA_WEB_FILES} ${CMAKE_SOURCE_DIR}/cmake/embed_files.cmake
  COMMENT "Embedding web/ into the server"
  VERBATIM)
add_custom_target(magicanimate_web_assets DEPENDS ${MA_WEB_EMBEDDED_INC})
add_dependencies(ma_serve magicanimate_web_assets)
set_source_files_properties(${CMAKE_SOURCE_DIR}/src/serve/web_assets.cpp PROPERTIES
  COMPILE_DEFINITIONS MA_WEB_EMBEDDED=1
  INCLUDE_DIRECTORIES ${CMAKE_BINARY_DIR}/generated
  OBJECT_DEPENDS ${MA_WEB_EMBEDDED_INC})
