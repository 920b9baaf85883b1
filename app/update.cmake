# `clipal update`: release lookup, verified download and atomic self-replacement. The pure
# pieces (version order, release document, checksums) need no network to test.
add_library(clipal_update_cmd STATIC
  ${CMAKE_CURRENT_LIST_DIR}/https_fetch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/release_manifest.cpp
  ${CMAKE_CURRENT_LIST_DIR}/update_command.cpp
  ${CMAKE_CURRENT_LIST_DIR}/version_compare.cpp
)
target_link_libraries(clipal_update_cmd PUBLIC clipal_app_platform clipal_control_client clipal_shared clipal_asio Boost::url Boost::json
  OpenSSL::SSL OpenSSL::Crypto)
clipal_warnings(clipal_update_cmd)
# The clipal executable dispatches `clipal update` (app/main.cpp).
target_link_libraries(clipal PRIVATE clipal_update_cmd)
