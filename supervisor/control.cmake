# The supervisor's control plane: control socket server and its path, config watcher,
# sd_notify, and the status table. Linked into the supervisor and the control client.
add_library(clipal_control STATIC
  ${CMAKE_CURRENT_LIST_DIR}/config_watcher.cpp
  ${CMAKE_CURRENT_LIST_DIR}/config_watcher_portable.cpp
  ${CMAKE_CURRENT_LIST_DIR}/control_server.cpp
  ${CMAKE_CURRENT_LIST_DIR}/control_socket_path.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sd_notify.cpp
  ${CMAKE_CURRENT_LIST_DIR}/status_report.cpp
)
# The inotify backend is the Linux sibling of the polling one; CLIPAL_PLATFORM (top-level
# CMakeLists.txt, clipal/platform_config.hpp) decides, so the portable tree watches by
# polling as macOS does.
if(CLIPAL_PLATFORM STREQUAL "linux")
  target_sources(clipal_control PRIVATE ${CMAKE_CURRENT_LIST_DIR}/config_watcher_linux.cpp)
endif()
target_link_libraries(clipal_control PUBLIC clipal_shared clipal_asio clipal_platform)
clipal_warnings(clipal_control)
