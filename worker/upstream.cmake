# Upstream client: target parsing, proxy settings, TLS, connector, keep-alive pool.
add_library(clipal_upstream STATIC ${CMAKE_CURRENT_SOURCE_DIR}/upstream_placeholder.cpp)
target_link_libraries(clipal_upstream PUBLIC clipal_shared clipal_asio)
clipal_warnings(clipal_upstream)
