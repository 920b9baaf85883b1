// One query per OS: /proc/self/exe on Linux, _NSGetExecutablePath on macOS,
// GetModuleFileNameW on Windows.
#include "app/current_executable.hpp"

#include <array>
#include <cstdint>
#include <stdexcept>
#include <system_error>

#if defined(__APPLE__)
#include <mach-o/dyld.h>
#elif defined(_WIN32)
#include <windows.h>
#endif

namespace clipal::app {

std::filesystem::path current_executable() {
#if defined(__APPLE__)
    std::array<char, 4096> buf{};
    auto size = static_cast<std::uint32_t>(buf.size());
    if (::_NSGetExecutablePath(buf.data(), &size) != 0) throw std::runtime_error("cannot find the running executable");
    return std::filesystem::canonical(buf.data());
#elif defined(_WIN32)
    std::array<wchar_t, 32768> buf{};
    const auto n = ::GetModuleFileNameW(nullptr, buf.data(), static_cast<DWORD>(buf.size()));
    if (n == 0 || n >= buf.size()) throw std::runtime_error("cannot find the running executable");
    return std::filesystem::path(std::wstring(buf.data(), n));
#else
    std::error_code ec;
    auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) throw std::runtime_error("cannot find the running executable (/proc/self/exe: " + ec.message() + ")");
    return p;
#endif
}

} // namespace clipal::app
