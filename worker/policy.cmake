# Provider state, request header rewrite, request body reading (streaming, model override),
# response usage metering:
# pure logic (Beast's parser and header_block, no io_context).
add_library(clipal_policy STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/block_pool.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/header_block.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/http_types.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/json_key_scan.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/provider_set.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/request_body.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/request_rewrite.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/retry_budget.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/usage_meter.cpp
)
# clipal_asio: Beast is compiled there (BOOST_BEAST_SEPARATE_COMPILATION), even the parts
# that header-only users like fields need.
target_link_libraries(clipal_policy PUBLIC clipal_shared clipal_asio Boost::headers)
clipal_warnings(clipal_policy)
