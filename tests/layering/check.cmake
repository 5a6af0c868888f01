cmake_minimum_required(VERSION 3.18)  # policies for script mode (IN_LIST)
# cmake -DWORK=<scratch folder> -P check.cmake
# Runs the configure step's include-layering rule (cmake/room_includes.cmake)
# on two crafted files of a room `nn` (below weights and util, far below serve):
# good.h includes only what nn may include and must pass; bad.h includes
# serve/server.h on its line 3 and must be refused, naming the file and line
# (tests/CMakeLists.txt matches the message).
include(${CMAKE_CURRENT_LIST_DIR}/../../cmake/room_includes.cmake)
file(REMOVE_RECURSE ${WORK})
file(WRITE ${WORK}/src/nn/good.h "#pragma once\n#include \"nn/module.h\"\n#include \"weights/tensor_map.h\"\n#include \"util/error.h\"\n#include \"viridis_lut.inc\"\n#include \"tests/test_util.h\"\n")
file(WRITE ${WORK}/src/nn/bad.h "#pragma once\n#include \"nn/module.h\"\n#include \"serve/server.h\"\n")
set(rooms util weights nn models pipeline serve)
ma_check_room_includes(nn ROOT ${WORK} ALLOWED nn weights util ROOMS ${rooms} FILES ${WORK}/src/nn/good.h)
message(STATUS "good.h passed")
ma_check_room_includes(nn ROOT ${WORK} ALLOWED nn weights util ROOMS ${rooms} FILES ${WORK}/src/nn/bad.h)
message(FATAL_ERROR "bad.h was not refused")
