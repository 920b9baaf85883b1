// One query per OS: GetModuleFileNameW on Windows; on POSIX systems the query of
// platform/process_inspection.hpp (/proc/self/exe on Linux, _NSGetExecutablePath on macOS).
#include "app/current_executable.hpp"

#include <array>
#include <stdexcept>

#if defined(_WIN32)
#include <windows.h>
#else
#include "platform/process_inspection.hpp"
#endif

namespace clipal::app {

std::filesystem::path current_executable() {
#if defined(_WIN32)
    std::array<wchar_t, 32768> buf{};
    const auto n = ::GetModuleFileNameW(nullptr, buf.data(), static_cast<DWORD>(buf.size()));
    if (n == 0 || n >= buf.size()) throw std::runtime_error("cannot find the running executable");
    return std::filesystem::path(std::wstring(buf.data(), n));
#else
    if (auto p = platform::executable_path()) return *p;
    throw std::runtime_error("cannot find the running executable");
#endif
}

} // namespace clipal::app
