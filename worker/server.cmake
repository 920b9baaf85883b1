# Client session, forwarder (failover + streaming), the worker process main.
add_library(clipal_worker STATIC ${CMAKE_CURRENT_SOURCE_DIR}/worker_placeholder.cpp)
target_link_libraries(clipal_worker PUBLIC clipal_policy clipal_upstream clipal_ipc)
clipal_warnings(clipal_worker)
