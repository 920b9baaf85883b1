# Upstream client: target parsing, proxy settings, TLS, connector, keep-alive pool.
add_library(clipal_upstream STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/connection_pool.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/proxy_settings.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/tls_context.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/upstream_connector.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/upstream_stream.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/upstream_target.cpp
)
# clipal_policy: the block_pool the pool's attempts allocate from.
target_link_libraries(clipal_upstream PUBLIC clipal_policy clipal_shared clipal_asio)
clipal_warnings(clipal_upstream)
