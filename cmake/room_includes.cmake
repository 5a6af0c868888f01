# ma_check_room_includes(): the include-layering rule of cmake/rooms.cmake, in a
# file of its own so that a script (tests/layering/check.cmake) can run it on
# crafted files without configuring the project.

# Refuses (FATAL_ERROR) the first include in FILES of a project room that is
# not in ALLOWED. ROOMS: every room name (other quoted includes, such as
# "viridis_lut.inc" or a test helper, are not the layering's business).
# ROOT: the folder the reported paths are relative to.
function(ma_check_room_includes room)
  cmake_parse_arguments(C "" "ROOT" "ALLOWED;ROOMS;FILES" ${ARGN})
  foreach(f ${C_FILES})
    file(STRINGS ${f} includes REGEX "^[ \t]*#[ \t]*include[ \t]*\"[a-z_0-9]+/")
    foreach(line ${includes})
      string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]*\"([a-z_0-9]+)/.*" "\\1" top "${line}")
      if(top IN_LIST C_ROOMS AND NOT top IN_LIST C_ALLOWED)
        # The line number, found only for the offending line.
        file(READ ${f} text)
        string(FIND "${text}" "${line}" at)
        string(SUBSTRING "${text}" 0 ${at} before)
        string(REGEX MATCHALL "\n" newlines "${before}")
        list(LENGTH newlines n)
        math(EXPR n "${n} + 1")
        file(RELATIVE_PATH rel ${C_ROOT} ${f})
        string(REPLACE ";" " " may "${C_ALLOWED}")
        message(FATAL_ERROR "layering: ${rel}:${n}: ${line}: room '${room}' may include only: ${may}")
      endif()
    endforeach()
  endforeach()
endfunction()
