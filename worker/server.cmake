# Client session, forwarder (failover + streaming), the worker process main.
add_library(clipal_worker STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/client_session.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/forwarder.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/idle_memory.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/profile_runtime.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/upstream_attempt.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/worker_link.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/worker_main.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/worker_server.cpp
)
target_link_libraries(clipal_worker PUBLIC clipal_policy clipal_upstream clipal_ipc)
clipal_warnings(clipal_worker)
