# `clipal service` and the platform helpers it shares with `clipal update` (running a
# program with a deadline, finding the running executable). The service manager code is
# chosen per platform: systemd on Linux, launchd on macOS, Task Scheduler on Windows.
# run_subprocess is one Boost.Process v2 implementation for all of them.
if(WIN32)
  set(CLIPAL_SERVICE_BACKEND service_schtasks.cpp)
elseif(APPLE)
  set(CLIPAL_SERVICE_BACKEND service_launchd.cpp)
else()
  set(CLIPAL_SERVICE_BACKEND service_systemd.cpp)
endif()

add_library(clipal_app_platform STATIC
  ${CMAKE_CURRENT_LIST_DIR}/current_executable.cpp
  ${CMAKE_CURRENT_LIST_DIR}/subprocess.cpp
)
target_include_directories(clipal_app_platform PUBLIC ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}/generated)
target_link_libraries(clipal_app_platform PUBLIC clipal_asio)
if(NOT WIN32)
  target_link_libraries(clipal_app_platform PUBLIC clipal_platform)
endif()
clipal_warnings(clipal_app_platform)

add_library(clipal_service_cmd STATIC
  ${CMAKE_CURRENT_LIST_DIR}/service_command.cpp
  ${CMAKE_CURRENT_LIST_DIR}/service_files.cpp
  ${CMAKE_CURRENT_LIST_DIR}/${CLIPAL_SERVICE_BACKEND}
)
target_link_libraries(clipal_service_cmd PUBLIC clipal_app_platform clipal_shared)
clipal_warnings(clipal_service_cmd)
# The clipal executable dispatches `clipal service` (app/main.cpp).
target_link_libraries(clipal PRIVATE clipal_service_cmd)
