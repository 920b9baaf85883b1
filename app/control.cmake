# The client side of `clipal status|reload|stop`, linked into the clipal executable.
add_library(clipal_control_client STATIC ${CMAKE_CURRENT_LIST_DIR}/control_commands.cpp)
target_link_libraries(clipal_control_client PUBLIC clipal_control)
clipal_warnings(clipal_control_client)
