# `clipal setup`: points Claude Code, Codex CLI and Gemini CLI at clipal (app/setup_*.cpp).
# toml++ (Debian: libtomlplusplus-dev) is used header-only, in setup_toml_edit.cpp alone, so
# the binary needs no libtomlplusplus at run time; only its headers are looked for.
find_path(CLIPAL_TOMLPLUSPLUS_INCLUDE_DIR toml++/toml.h REQUIRED)
add_library(clipal_setup STATIC
  ${CMAKE_CURRENT_LIST_DIR}/setup_command.cpp
  ${CMAKE_CURRENT_LIST_DIR}/setup_dotenv_edit.cpp
  ${CMAKE_CURRENT_LIST_DIR}/setup_files.cpp
  ${CMAKE_CURRENT_LIST_DIR}/setup_json_edit.cpp
  ${CMAKE_CURRENT_LIST_DIR}/setup_text.cpp
  ${CMAKE_CURRENT_LIST_DIR}/setup_toml_edit.cpp
)
target_include_directories(clipal_setup SYSTEM PRIVATE ${CLIPAL_TOMLPLUSPLUS_INCLUDE_DIR})
target_link_libraries(clipal_setup PUBLIC clipal_shared)
clipal_warnings(clipal_setup)
# The clipal executable dispatches `clipal setup` (app/main.cpp).
target_link_libraries(clipal PRIVATE clipal_setup)
