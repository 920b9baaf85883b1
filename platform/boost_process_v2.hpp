// The one way clipal includes Boost.Process v2 (Boost 1.81, header-only).
//
// v2 takes paths as std::filesystem::path with BOOST_PROCESS_USE_STD_FS, and as
// boost::filesystem::path otherwise, which would add Boost.Filesystem (a compiled library,
// Debian's libboost-filesystem1.81-dev) to every link. clipal uses std::filesystem. In 1.81,
// though, v2's headers with BOOST_PROCESS_USE_STD_FS do not compile on their own: they name
// boost::optional, boost::asio::detail::throw_error and, unqualified, Boost.TypeTraits'
// decay, is_convertible, is_constructible and remove_pointer, which only the Boost.Filesystem headers
// happened to bring in. They are included here first.
//
// GCC 12 at -O2 also reports false -Warray-bounds, -Wstringop-overflow and -Wrestrict inside v2's
// posix::default_launcher::close_all_fds (a std::vector assigned from a 3-element
// initializer_list, inlined; GCC bug 105651); they are off for the translation units that
// include this.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Warray-bounds"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

#if !defined(BOOST_PROCESS_USE_STD_FS)
#define BOOST_PROCESS_USE_STD_FS 1
#endif

// The portable tree turns off v2's Linux-only pidfd_open process handle, so run_subprocess
// waits for its child through SIGCHLD, as it does on macOS.
#include "clipal/platform_config.hpp"
#if defined(CLIPAL_PLATFORM_PORTABLE) && !defined(BOOST_PROCESS_V2_DISABLE_PIDFD_OPEN)
#define BOOST_PROCESS_V2_DISABLE_PIDFD_OPEN 1
#endif

#include <boost/asio/detail/throw_error.hpp>
#include <boost/optional.hpp>
#include <boost/type_traits/decay.hpp>
#include <boost/type_traits/is_constructible.hpp>
#include <boost/type_traits/is_convertible.hpp>
#include <boost/type_traits/remove_pointer.hpp>

#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/stdio.hpp>
#if !defined(_WIN32)
#include <boost/process/v2/posix/bind_fd.hpp>
#include <boost/process/v2/posix/default_launcher.hpp>
#endif
