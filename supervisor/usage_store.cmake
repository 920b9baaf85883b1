# usage.db (issue 15): the supervisor writes it, `clipal usage` reads it. SQLite from Debian's
# libsqlite3-dev through CMake's FindSQLite3; its imported target is made global because the
# app and the tests link this library from other directories.
find_package(SQLite3 REQUIRED)
set_target_properties(SQLite::SQLite3 PROPERTIES IMPORTED_GLOBAL TRUE)
add_library(clipal_usage_store STATIC ${CMAKE_CURRENT_LIST_DIR}/usage_store.cpp)
target_link_libraries(clipal_usage_store PUBLIC clipal_shared PRIVATE SQLite::SQLite3)
clipal_warnings(clipal_usage_store)
