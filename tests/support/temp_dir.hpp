// A directory under $TMPDIR that is removed with everything in it when the test ends.
#pragma once

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <stdlib.h>

namespace clipal::test {

class temp_dir {
public:
    temp_dir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "clipal-test-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = tmpl;
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const std::filesystem::path& path() const { return path_; }

    // Writes a file with owner-only permissions, like a careful user would.
    std::filesystem::path write(std::string_view name, std::string_view text,
                                std::filesystem::perms perms = std::filesystem::perms::owner_read |
                                                               std::filesystem::perms::owner_write) const {
        const auto p = path_ / name;
        std::filesystem::create_directories(p.parent_path());
        {
            std::ofstream out(p, std::ios::binary | std::ios::trunc);
            out << text;
        }
        std::filesystem::permissions(p, perms);
        return p;
    }

private:
    std::filesystem::path path_;
};

} // namespace clipal::test
