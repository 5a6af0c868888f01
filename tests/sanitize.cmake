# loaders_asan_test: the weight-file loaders and their tests rebuilt with
# AddressSanitizer + UndefinedBehaviorSanitizer. The loaders parse untrusted
# bytes (safetensors headers, pickles, zip archives), so every out-of-bounds
# read or overflow must abort the test instead of passing silently.
# Included by tests/CMakeLists.txt; active when MA_SANITIZE is ON.
if(NOT MA_SANITIZE)
  return()
endif()

include(CheckCXXSourceCompiles)
set(MA_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
set(CMAKE_REQUIRED_FLAGS "-fsanitize=address,undefined")
set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=address,undefined")
check_cxx_source_compiles("int main() { return 0; }" MA_COMPILER_HAS_ASAN_UBSAN)
unset(CMAKE_REQUIRED_FLAGS)
unset(CMAKE_REQUIRED_LINK_OPTIONS)
if(NOT MA_COMPILER_HAS_ASAN_UBSAN)
  message(STATUS "MA_SANITIZE: compiler lacks -fsanitize=address,undefined; loaders_asan_test not built")
  return()
endif()

set(MA_LOADER_SOURCES
  ${CMAKE_SOURCE_DIR}/src/weights/safetensors.cpp
  ${CMAKE_SOURCE_DIR}/src/weights/mapped_pages.cpp
  ${CMAKE_SOURCE_DIR}/src/weights/torch_pickle.cpp
  ${CMAKE_SOURCE_DIR}/src/weights/torch_zip.cpp
  ${CMAKE_SOURCE_DIR}/src/weights/torch_legacy.cpp
  ${CMAKE_SOURCE_DIR}/src/weights/weights.cpp
  ${CMAKE_SOURCE_DIR}/src/weights/tensor_map.cpp
  ${CMAKE_SOURCE_DIR}/src/util/config.cpp
  ${CMAKE_SOURCE_DIR}/src/weights/model_paths.cpp)
set(MA_LOADER_TESTS
  ${CMAKE_CURRENT_SOURCE_DIR}/unit/safetensors_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/unit/torch_pickle_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/unit/weights_test.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/unit/model_paths_test.cpp)

add_executable(loaders_asan_test ${MA_LOADER_SOURCES} ${MA_LOADER_TESTS})
target_include_directories(loaders_asan_test PRIVATE
  ${CMAKE_SOURCE_DIR}/src ${CMAKE_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(loaders_asan_test PRIVATE
  MA_TEST_DATA_DIR="${MA_TEST_DATA_DIR}" MA_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
# -O1 keeps the instrumented build quick to run while staying debuggable.
target_compile_options(loaders_asan_test PRIVATE ${MA_WARNINGS} ${MA_SANITIZE_FLAGS} -O1 -g)
target_link_options(loaders_asan_test PRIVATE ${MA_SANITIZE_FLAGS})
target_link_libraries(loaders_asan_test PRIVATE
  ${TORCH_LIBRARIES} PkgConfig::LIBZIP nlohmann_json::nlohmann_json Threads::Threads
  GTest::gtest GTest::gtest_main)

add_test(NAME loaders_asan_test COMMAND loaders_asan_test)
set_tests_properties(loaders_asan_test PROPERTIES TIMEOUT 900 LABELS sanitize)
