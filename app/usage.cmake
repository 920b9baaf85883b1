# `clipal usage`: reads usage.db (supervisor/usage_store) and config.yaml's prices.
add_library(clipal_usage_cmd STATIC ${CMAKE_CURRENT_LIST_DIR}/usage_command.cpp)
target_link_libraries(clipal_usage_cmd PUBLIC clipal_usage_store clipal_shared)
clipal_warnings(clipal_usage_cmd)
# The clipal executable dispatches `clipal usage` (app/main.cpp).
target_link_libraries(clipal PRIVATE clipal_usage_cmd)
