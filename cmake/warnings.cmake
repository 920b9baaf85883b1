# Warnings for our own targets only; third-party headers come in as system headers.
# -Wshadow=local is GCC's (clang builds only the libFuzzer tree).
function(clipal_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>
    -Wnon-virtual-dtor -Wcast-align -Wunused -Woverloaded-virtual
    -Wimplicit-fallthrough)
  if(CLIPAL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
