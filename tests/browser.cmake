# Browser test of the `magicanimate serve` web page (label "browser"): headless
# Chromium driven by playwright-core (tests/browser/run.sh installs it with
# `npm ci` on first use). Registered only where node, npm and Chromium exist;
# it reports "skipped" (exit 77) when the npm packages cannot be installed.
# The screenshot lands in the build folder as serve-page.png.
find_program(MA_NODE node)
find_program(MA_NPM npm)
find_program(MA_CHROMIUM NAMES chromium chromium-browser google-chrome-stable google-chrome)
if(MA_NODE AND MA_NPM AND MA_CHROMIUM)
  add_test(NAME serve_browser
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/browser/run.sh $<TARGET_FILE:magicanimate> ${CMAKE_BINARY_DIR})
  set_tests_properties(serve_browser PROPERTIES
    LABELS browser
    SKIP_RETURN_CODE 77
    TIMEOUT 900
    ENVIRONMENT "CHROMIUM=${MA_CHROMIUM}")
else()
  message(STATUS "Browser test off: needs node, npm and chromium")
endif()
