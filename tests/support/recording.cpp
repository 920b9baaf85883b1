// JSON-lines parsing of fake-upstream recordings with Boost.JSON.
#include "support/recording.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>

namespace clipal::test {
namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string str(const boost::json::object& o, const char* key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::size_t num(const boost::json::object& o, const char* key) {
    const auto* v = o.if_contains(key);
    if (v == nullptr) return 0;
    if (v->is_uint64()) return static_cast<std::size_t>(v->get_uint64());
    if (v->is_int64()) return static_cast<std::size_t>(v->get_int64());
    return 0;
}

} // namespace

std::optional<std::string> recorded_request::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (iequals(k, name)) return v;
    return std::nullopt;
}

std::size_t recorded_request::header_count(std::string_view name) const {
    return static_cast<std::size_t>(
        std::count_if(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); }));
}

std::vector<recorded_request> read_recording(const std::filesystem::path& file) {
    std::vector<recorded_request> out;
    std::ifstream in(file, std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
        if (in.eof()) break; // no newline yet: the writer is mid-line
        boost::system::error_code ec;
        const auto v = boost::json::parse(line, ec);
        if (ec || !v.is_object()) continue;
        const auto& o = v.get_object();
        recorded_request r;
        r.provider = str(o, "provider");
        r.method = str(o, "method");
        r.target = str(o, "target");
        if (const auto* hs = o.if_contains("headers"); hs != nullptr && hs->is_array())
            for (const auto& h : hs->get_array())
                if (h.is_array() && h.get_array().size() == 2 && h.get_array()[0].is_string() &&
                    h.get_array()[1].is_string())
                    r.headers.emplace_back(std::string(h.get_array()[0].get_string()),
                                           std::string(h.get_array()[1].get_string()));
        r.body_length = num(o, "body_length");
        r.body_sha256 = str(o, "body_sha256");
        r.body = str(o, "body");
        r.conn = num(o, "conn");
        r.seq = num(o, "seq");
        if (const auto* t = o.if_contains("tls"); t != nullptr && t->is_bool()) r.tls = t->get_bool();
        r.step = str(o, "step");
        r.status = static_cast<int>(num(o, "status"));
        if (const auto* t = o.if_contains("t_ms"); t != nullptr && (t->is_int64() || t->is_uint64()))
            r.t_ms = t->to_number<std::int64_t>();
        out.push_back(std::move(r));
    }
    return out;
}

} // namespace clipal::test
