# Warnings for our own targets only; third-party headers come in as system headers.
function(clipal_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow=local
    -Wnon-virtual-dtor -Wcast-align -Wunused -Woverloaded-virtual
    -Wimplicit-fallthrough)
  if(CLIPAL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
