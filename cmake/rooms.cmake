# The engine's rooms: one static library per folder of src/, declared in
# dependency order in the top-level CMakeLists.txt, so the architecture is
# written down once and enforced twice:
#
#   ma_room(<room> [DEPENDS <room>...] [PUBLIC_LIBS <lib>...] [PRIVATE_LIBS <lib>...])
#
# builds src/<room>/**/*.cpp into the static library ma_<room>.
#
# 1. At build time: a room sees only its own headers and those of the rooms it
#    depends on (directly or through their DEPENDS). Each room's headers are
#    reachable through its own include root, <build>/rooms/<room>/<room> -> src/<room>,
#    which is a PUBLIC include directory of ma_<room> only; so
#    `#include "serve/server.h"` in src/nn fails to compile (no such file) and
#    a lower room cannot link a higher one. PRIVATE_LIBS (c10d/Gloo for dist,
#    SQLite for serve) and their headers stay inside the room that names them.
# 2. At configure time: every `#include "<room>/..."` in src/<room> must name
#    the room itself or one it may include; an upward or sideways include
#    (pipeline including train, serve including dist) stops the configure step
#    with the file, the line and the rooms it may include
#    (ma_check_room_includes, also run by tests/layering on a crafted file).

include(${CMAKE_CURRENT_LIST_DIR}/room_includes.cmake)

# Every folder of src/ is a room; a folder without ma_room() is an error
# (ma_rooms_complete below), so a new folder cannot slip past the layering.
file(GLOB ma_src_entries LIST_DIRECTORIES true RELATIVE ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR}/src/*)
set(MA_ALL_ROOMS)
foreach(e ${ma_src_entries})
  if(IS_DIRECTORY ${CMAKE_SOURCE_DIR}/src/${e})
    list(APPEND MA_ALL_ROOMS ${e})
  endif()
endforeach()

# Sources shared by every room: the precompiled header (ATen is by far the
# heaviest include; it is compiled once, here, and reused by every target).
file(WRITE ${CMAKE_BINARY_DIR}/rooms/pch.cpp "// Compiles src/pch.h once for every room (REUSE_FROM ma_pch).\n")
add_library(ma_pch STATIC ${CMAKE_BINARY_DIR}/rooms/pch.cpp)
target_link_libraries(ma_pch PUBLIC ${TORCH_LIBRARIES})
target_compile_options(ma_pch PRIVATE ${MA_WARNINGS})
target_precompile_headers(ma_pch PRIVATE ${CMAKE_SOURCE_DIR}/src/pch.h)

set(MA_ROOM_TARGETS)  # every ma_<room>, in dependency order
function(ma_room room)
  cmake_parse_arguments(R "" "" "DEPENDS;PUBLIC_LIBS;PRIVATE_LIBS" ${ARGN})
  set(dir ${CMAKE_SOURCE_DIR}/src/${room})
  if(NOT IS_DIRECTORY ${dir})
    message(FATAL_ERROR "ma_room(${room}): no folder src/${room}")
  endif()
  # What this room may include: itself and everything its dependencies may.
  set(allowed ${room})
  foreach(dep ${R_DEPENDS})
    get_property(dep_allowed GLOBAL PROPERTY MA_ROOM_ALLOWED_${dep})
    if(NOT dep_allowed)
      message(FATAL_ERROR "ma_room(${room}): depends on '${dep}', which is not declared before it")
    endif()
    list(APPEND allowed ${dep_allowed})
  endforeach()
  list(REMOVE_DUPLICATES allowed)
  set_property(GLOBAL PROPERTY MA_ROOM_ALLOWED_${room} ${allowed})

  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${dir}/*.cpp)
  file(GLOB_RECURSE files CONFIGURE_DEPENDS ${dir}/*.cpp ${dir}/*.h ${dir}/*.inc)
  ma_check_room_includes(${room} ROOT ${CMAKE_SOURCE_DIR} ALLOWED ${allowed} ROOMS ${MA_ALL_ROOMS} FILES ${files})

  # The room's include root: only targets linking ma_<room> find "<room>/...".
  set(root ${CMAKE_BINARY_DIR}/rooms/${room})
  if(NOT EXISTS ${root}/${room})
    file(MAKE_DIRECTORY ${root})
    file(CREATE_LINK ${dir} ${root}/${room} SYMBOLIC)
  endif()

  set(target ma_${room})
  add_library(${target} STATIC ${sources})
  target_include_directories(${target} PUBLIC ${root})
  target_link_libraries(${target} PUBLIC ${TORCH_LIBRARIES} ${R_PUBLIC_LIBS})
  foreach(dep ${R_DEPENDS})
    target_link_libraries(${target} PUBLIC ma_${dep})
  endforeach()
  if(R_PRIVATE_LIBS)
    target_link_libraries(${target} PRIVATE ${R_PRIVATE_LIBS})
  endif()
  target_compile_options(${target} PRIVATE ${MA_WARNINGS})
  target_precompile_headers(${target} REUSE_FROM ma_pch)
  set(MA_ROOM_TARGETS ${MA_ROOM_TARGETS} ${target} PARENT_SCOPE)
  set_property(GLOBAL APPEND PROPERTY MA_DECLARED_ROOMS ${room})
endfunction()

# After the last ma_room(): every folder of src/ must have been declared.
function(ma_rooms_complete)
  get_property(declared GLOBAL PROPERTY MA_DECLARED_ROOMS)
  foreach(room ${MA_ALL_ROOMS})
    if(NOT room IN_LIST declared)
      message(FATAL_ERROR "src/${room}/ is not a declared room: add ma_room(${room} DEPENDS ...) to CMakeLists.txt")
    endif()
  endforeach()
endfunction()
