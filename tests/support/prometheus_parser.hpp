// Python's prometheus_client parser (Debian python3-prometheus-client) run over an exposition
// text, for the tests that check /metrics with a real parser rather than string matching.
#pragma once

#include "support/temp_dir.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace clipal::test {

// The Debian package installs for the system interpreter; a python3 earlier on PATH (pyenv,
// a venv) may not see it. Empty when there is none.
inline std::string system_python() {
    for (const char* p : {"/usr/bin/python3", "/bin/python3"})
        if (std::filesystem::exists(p)) return p;
    if (std::system("command -v python3 >/dev/null 2>&1") == 0) return "python3";
    return {};
}

struct prometheus_parse_result {
    // {"families": [{"name", "type", "help", "samples": [{"name", "labels", "value"}]}]}
    boost::json::value families;
    std::string error; // empty on success: what went wrong (python missing, module missing, bad output)
};

inline prometheus_parse_result parse_prometheus_text(const std::string& text) {
    static constexpr const char* script_text = R"PY(
import json, sys
try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError as e:
    print(json.dumps({"import_error": str(e)}))
    sys.exit(0)
out = []
for f in text_string_to_metric_families(open(sys.argv[1], encoding="utf-8").read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in f.samples]})
print(json.dumps({"families": out}))
)PY";
    prometheus_parse_result r;
    const auto python = system_python();
    if (python.empty()) {
        r.error = "python3 is not installed";
        return r;
    }
    temp_dir dir;
    const auto script = dir.write("parse.py", script_text);
    const auto input = dir.write("metrics.txt", text);
    const std::string cmd = python + " " + script.string() + " " + input.string() + " 2>&1";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (!pipe) {
        r.error = "popen failed";
        return r;
    }
    std::string output;
    char buf[4096];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) output.append(buf, n);
    const int status = ::pclose(pipe);
    if (status != 0) {
        r.error = "python exited with " + std::to_string(status) + ": " + output;
        return r;
    }
    boost::system::error_code ec;
    auto doc = boost::json::parse(output, ec);
    if (ec || !doc.is_object()) {
        r.error = "unexpected python output: " + output;
        return r;
    }
    if (const auto* err = doc.as_object().if_contains("import_error")) {
        r.error = "prometheus_client is missing for " + python +
                  " (apt-get install python3-prometheus-client): " + boost::json::serialize(*err);
        return r;
    }
    r.families = std::move(doc.as_object()["families"]);
    return r;
}

} // namespace clipal::test
