// Names for the IPC error codes, as they appear in logs.
#include "ipc/errc.hpp"

#include <string>

namespace clipal::ipc {
namespace {

// boost::system::error_category has a protected non-virtual destructor by design
// (categories are never deleted through a base pointer); g++ warns regardless.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class category final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "clipal.ipc"; }

    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
        case errc::bad_magic: return "bad frame magic";
        case errc::bad_version: return "unsupported IPC protocol version";
        case errc::frame_too_large: return "IPC frame too large";
        case errc::truncated_frame: return "truncated IPC frame";
        case errc::trailing_bytes: return "trailing bytes after IPC frame or payload";
        case errc::malformed_payload: return "malformed IPC message payload";
        case errc::unknown_message_type: return "unknown IPC message type";
        case errc::field_too_large: return "IPC message field too large";
        case errc::descriptor_error: return "IPC descriptor passing error";
        case errc::queue_full: return "IPC send queue full";
        case errc::channel_closed: return "IPC channel closed";
        }
        return "unknown IPC error " + std::to_string(ev);
    }
};
#pragma GCC diagnostic pop

} // namespace

const boost::system::error_category& ipc_category() noexcept {
    static const category instance;
    return instance;
}

} // namespace clipal::ipc
