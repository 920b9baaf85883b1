# Provider state and request rewrite: pure logic (Beast headers only, no io_context).
add_library(clipal_policy STATIC ${CMAKE_CURRENT_SOURCE_DIR}/policy_placeholder.cpp)
target_link_libraries(clipal_policy PUBLIC clipal_shared Boost::headers)
clipal_warnings(clipal_policy)
