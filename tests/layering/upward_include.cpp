// Must NOT compile: it is built with only the include roots of room nn
// (nn, weights, util), so the server's header is not there to be found.
// tests/CMakeLists.txt: layering_upward_include_fails_to_build.
#include "weights/tensor_map.h"  // a room nn may include: found
#include "serve/server.h"        // a room above nn: "No such file"
