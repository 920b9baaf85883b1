// `clipal setup`: every file of every tool asked for is read and edited in memory first;
// only when all of them parse and edit cleanly is anything written (backup, record, then
// the files), so a file clipal cannot read leaves every tool as it was.
#include "app/setup_command.hpp"

#include "app/setup_dotenv_edit.hpp"
#include "app/setup_files.hpp"
#include "app/setup_json_edit.hpp"
#include "app/setup_toml_edit.hpp"
#include "shared/base_url.hpp"
#include "shared/exit_codes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <ostream>
#include <variant>

namespace clipal::app {

namespace fs = std::filesystem;
using setup::edit_error;
using setup::file_contents;
using setup::file_record;
using setup::key_path;
using setup::key_record;
using setup::tool_record;

namespace {

// ---------------------------------------------------------------------------------------
// One settings file in any of the three formats.

enum class file_format { json, toml, dotenv };

struct lookup {
    enum kind_t { absent, string, other } kind = absent;
    std::string value;
};

class document {
public:
    static std::variant<document, edit_error> parse(file_format format, std::string text) {
        switch (format) {
        case file_format::json: {
            auto r = setup::json_document::parse(std::move(text));
            if (auto* e = std::get_if<edit_error>(&r)) return *e;
            return document(std::move(std::get<setup::json_document>(r)));
        }
        case file_format::toml: {
            auto r = setup::toml_document::parse(std::move(text));
            if (auto* e = std::get_if<edit_error>(&r)) return *e;
            return document(std::move(std::get<setup::toml_document>(r)));
        }
        case file_format::dotenv: {
            auto r = setup::dotenv_document::parse(std::move(text));
            if (auto* e = std::get_if<edit_error>(&r)) return *e;
            return document(std::move(std::get<setup::dotenv_document>(r)));
        }
        }
        return edit_error{0, 0, "unknown format"};
    }

    const std::string& text() const {
        return std::visit([](const auto& d) -> const std::string& { return d.text(); }, doc_);
    }

    lookup get(const key_path& path) const {
        if (const auto* j = std::get_if<setup::json_document>(&doc_)) {
            const auto r = j->get(path);
            return {static_cast<lookup::kind_t>(r.kind), r.value};
        }
        if (const auto* t = std::get_if<setup::toml_document>(&doc_)) {
            const auto r = t->get(path);
            return {static_cast<lookup::kind_t>(r.kind), r.value};
        }
        const auto& d = std::get<setup::dotenv_document>(doc_);
        const auto v = path.size() == 1 ? d.get(path.front()) : std::nullopt;
        return v ? lookup{lookup::string, *v} : lookup{};
    }

    std::optional<edit_error> set(const key_path& path, std::string_view value) {
        if (auto* j = std::get_if<setup::json_document>(&doc_)) return j->set(path, value);
        if (auto* t = std::get_if<setup::toml_document>(&doc_)) return t->set(path, value);
        return std::get<setup::dotenv_document>(doc_).set(path.front(), value);
    }

    std::optional<edit_error> remove(const key_path& path) {
        if (auto* j = std::get_if<setup::json_document>(&doc_)) return j->remove(path);
        if (auto* t = std::get_if<setup::toml_document>(&doc_)) return t->remove(path);
        return std::get<setup::dotenv_document>(doc_).remove(path.front());
    }

    // Removes an object or table clipal added, once nothing is left in it.
    std::optional<edit_error> remove_if_empty(const key_path& path) {
        if (auto* j = std::get_if<setup::json_document>(&doc_))
            return j->empty_object(path) ? j->remove(path) : std::nullopt;
        if (auto* t = std::get_if<setup::toml_document>(&doc_)) return t->remove_empty_table(path);
        return std::nullopt;
    }

    // Nothing the tool would read is left.
    bool empty() const {
        if (const auto* j = std::get_if<setup::json_document>(&doc_))
            return j->value().is_object() && j->value().as_object().empty();
        if (const auto* t = std::get_if<setup::toml_document>(&doc_)) return t->empty();
        return std::get<setup::dotenv_document>(doc_).empty();
    }

private:
    using any_doc = std::variant<setup::json_document, setup::toml_document, setup::dotenv_document>;
    explicit document(any_doc d) : doc_(std::move(d)) {}
    any_doc doc_;
};

// ---------------------------------------------------------------------------------------
// Where clipal listens, and where each tool keeps its files.

struct endpoint {
    std::string host; // as it goes in a URL: IPv6 in brackets
    std::uint16_t port = 0;
    bool loopback = true;
    std::string access_token;

    std::string base() const { return fmt::format("http://{}:{}", host, port); }
    std::string url(profile p) const { return base() + std::string(info(p).prefix); }
};

std::optional<endpoint> load_endpoint(const setup_options& o, std::ostream& err, int& code) {
    const auto file = o.config_dir / "config.yaml";
    file_contents contents;
    if (auto e = setup::read_file(file, contents)) {
        err << "clipal setup: " << *e << "\n";
        code = exit_config;
        return std::nullopt;
    }
    global_config g;
    if (contents.exists) {
        std::vector<config_issue> errors;
        g = parse_global_yaml(contents.bytes, file.string(), errors);
        if (!errors.empty()) {
            for (const auto& e : errors) err << "clipal setup: " << e.to_string() << "\n";
            err << "clipal setup: fix config.yaml first (clipal check shows what is wrong); nothing was changed\n";
            code = exit_config;
            return std::nullopt;
        }
    }
    endpoint ep;
    std::string host = o.overrides.listen_addr.value_or(g.listen_addr);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    // A wildcard address accepts connections on loopback too; the tools use that.
    if (host == "0.0.0.0" || host == "::" || host.empty()) host = "127.0.0.1";
    ep.host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    ep.port = o.overrides.port.value_or(g.port);
    if (ep.port == 0) {
        err << "clipal setup: --port 0 picks a new port on every start; the tools need a fixed one\n";
        code = exit_usage;
        return std::nullopt;
    }
    std::string error;
    const auto parsed = parse_base_url(ep.base(), error);
    ep.loopback = parsed && parsed->loopback;
    ep.access_token = g.access_token;
    return ep;
}

struct tool_file {
    std::string role; // "settings.json", "config.toml", ".env"
    fs::path path;
    file_format format;
};

std::optional<std::string> check_home(const setup_environment& env) {
    if (env.home.empty()) return "HOME is not set, so clipal setup cannot tell where the tools keep their settings";
    std::error_code ec;
    if (!fs::is_directory(env.home, ec))
        return fmt::format("the home directory {} does not exist (HOME={})", env.home.string(), env.home.string());
    return std::nullopt;
}

// The files `tool` reads, as the tool itself finds them.
std::optional<std::string> files_of(profile tool, const setup_environment& env, std::vector<tool_file>& files) {
    files.clear();
    switch (tool) {
    case profile::claude_code: {
        fs::path dir;
        if (env.claude_config_dir) {
            dir = *env.claude_config_dir;
        } else {
            if (auto e = check_home(env)) return e;
            dir = env.home / ".claude";
        }
        files.push_back({"settings.json", dir / "settings.json", file_format::json});
        break;
    }
    case profile::codex: {
        fs::path dir;
        if (env.codex_home) {
            dir = *env.codex_home;
            std::error_code ec;
            if (!fs::is_directory(dir, ec))
                return fmt::format("CODEX_HOME={} does not exist (Codex does not start without it either)",
                                   dir.string());
        } else {
            if (auto e = check_home(env)) return e;
            dir = env.home / ".codex";
        }
        files.push_back({"config.toml", dir / "config.toml", file_format::toml});
        break;
    }
    case profile::gemini: {
        fs::path base;
        if (env.gemini_cli_home) {
            base = *env.gemini_cli_home;
        } else {
            if (auto e = check_home(env)) return e;
            base = env.home;
        }
        files.push_back({"settings.json", base / ".gemini" / "settings.json", file_format::json});
        files.push_back({".env", base / ".gemini" / ".env", file_format::dotenv});
        break;
    }
    }
    return std::nullopt;
}

// "~/.claude/settings.json" for a path under the home directory.
std::string shown(const fs::path& p, const setup_environment& env) {
    if (!env.home.empty()) {
        const auto rel = p.lexically_relative(env.home);
        if (!rel.empty() && *rel.begin() != "..") return "~/" + rel.generic_string();
    }
    return p.string();
}

fs::path backup_dir(const fs::path& config_dir) { return config_dir / "setup-backup"; }

fs::path record_path(const fs::path& config_dir, profile tool) {
    return backup_dir(config_dir) / (std::string(info(tool).name) + ".json");
}

// The tool's record of an earlier `clipal setup`, if there is one.
std::optional<std::string> load_record(const fs::path& config_dir, profile tool, std::optional<tool_record>& out) {
    out.reset();
    file_contents c;
    const auto path = record_path(config_dir, tool);
    if (auto e = setup::read_file(path, c)) return e;
    if (!c.exists) return std::nullopt;
    std::string error;
    out = setup::tool_record_from_json(c.bytes, error);
    if (!out) return fmt::format("{}: {}", path.string(), error);
    return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// Editing: a file in memory, the keys changed in it.

struct file_edit {
    tool_file file;
    file_contents before;
    std::optional<document> doc;
    std::vector<key_record> changes;

    bool changed() const { return doc && (before.exists ? doc->text() != before.bytes : !changes.empty()); }
};

std::optional<std::string> open_file(const tool_file& f, const setup_environment& env, file_edit& out) {
    out = {};
    out.file = f;
    if (auto e = setup::read_file(f.path, out.before)) return e;
    auto parsed = document::parse(f.format, out.before.bytes);
    if (auto* e = std::get_if<edit_error>(&parsed))
        return fmt::format("{}: {}; clipal setup does not touch a file it cannot read", shown(f.path, env),
                           e->to_string());
    out.doc.emplace(std::move(std::get<document>(parsed)));
    return std::nullopt;
}

std::optional<std::string> set_key(file_edit& f, const key_path& path, std::string_view value,
                                   const setup_environment& env) {
    const auto current = f.doc->get(path);
    if (current.kind == lookup::string && current.value == value) return std::nullopt;
    if (current.kind == lookup::other)
        return fmt::format(
            "{}: {} is not a string; clipal setup leaves it to you (see README, Using it with the tools)",
            shown(f.file.path, env), setup::dotted(path));
    for (std::size_t n = 1; n < path.size(); ++n) {
        const key_path prefix(path.begin(), path.begin() + static_cast<std::ptrdiff_t>(n));
        if (f.doc->get(prefix).kind == lookup::absent) f.changes.push_back({prefix, std::nullopt, "", true});
    }
    if (auto e = f.doc->set(path, value)) return fmt::format("{}: {}", shown(f.file.path, env), e->to_string());
    f.changes.push_back(
        {path, current.kind == lookup::string ? std::optional(current.value) : std::nullopt, std::string(value)});
    return std::nullopt;
}

struct tool_plan {
    profile tool;
    std::vector<file_edit> files;
    std::vector<std::string> notes;
};

bool truthy(const lookup& v) { return v.kind == lookup::string && (v.value == "1" || v.value == "true"); }

// Providers in claude-code.yaml that take `x-api-key` (Anthropic's own API) while Claude
// Code sends its token as `Authorization: Bearer`, which clipal passes on in that style.
std::vector<std::string> bearer_sensitive_providers(const fs::path& config_dir) {
    file_contents c;
    const auto file = config_dir / "claude-code.yaml";
    if (setup::read_file(file, c) || !c.exists) return {};
    std::vector<config_issue> errors;
    const auto p = parse_profile_yaml(profile::claude_code, c.bytes, file.string(), errors);
    std::vector<std::string> names;
    for (const auto& pr : p.providers) {
        std::string error;
        const auto url = parse_base_url(pr.base_url, error);
        if (url && url->host == "api.anthropic.com" && pr.auth_header == auth_carrier::automatic)
            names.push_back(pr.name);
    }
    return names;
}

std::optional<std::string> plan_claude(tool_plan& plan, const endpoint& ep, const setup_options& o) {
    auto& f = plan.files.front();
    const key_path base{"env", "ANTHROPIC_BASE_URL"};
    const key_path auth{"env", "ANTHROPIC_AUTH_TOKEN"};
    const key_path api_key{"env", "ANTHROPIC_API_KEY"};
    if (auto e = set_key(f, base, ep.url(profile::claude_code), o.env)) return e;
    const bool has_auth = f.doc->get(auth).kind != lookup::absent;
    const bool has_key = f.doc->get(api_key).kind != lookup::absent;
    const bool has_helper = f.doc->get({"apiKeyHelper"}).kind != lookup::absent;
    if (!ep.access_token.empty()) {
        if (has_auth || !has_key)
            if (auto e = set_key(f, auth, ep.access_token, o.env)) return e;
        if (has_key)
            if (auto e = set_key(f, api_key, ep.access_token, o.env)) return e;
    } else if (!has_auth && !has_key && !has_helper) {
        if (auto e = set_key(f, auth, setup_placeholder_credential, o.env)) return e;
    }
    const std::pair<const char*, const char*> elsewhere[] = {{"CLAUDE_CODE_USE_BEDROCK", "Amazon Bedrock"},
                                                             {"CLAUDE_CODE_USE_VERTEX", "Google Vertex AI"},
                                                             {"CLAUDE_CODE_USE_FOUNDRY", "Microsoft Foundry"}};
    for (const auto& [var, where] : elsewhere)
        if (truthy(f.doc->get({"env", var})))
            plan.notes.push_back(fmt::format("{} sets env.{}: Claude Code then talks to {} and ignores "
                                             "ANTHROPIC_BASE_URL; remove it to use clipal",
                                             shown(f.file.path, o.env), var, where));
    if (f.doc->get(api_key).kind == lookup::absent && f.doc->get(auth).kind != lookup::absent)
        for (const auto& name : bearer_sensitive_providers(o.config_dir))
            plan.notes.push_back(fmt::format(
                "Claude Code sends ANTHROPIC_AUTH_TOKEN as \"Authorization: Bearer\" and clipal passes the key on in "
                "that style; Anthropic's API wants x-api-key, so give provider \"{}\" in claude-code.yaml "
                "`auth_header: x-api-key`",
                name));
    return std::nullopt;
}

std::optional<std::string> plan_codex(tool_plan& plan, const endpoint& ep, const setup_options& o) {
    auto& f = plan.files.front();
    if (auto e = set_key(f, {"model_provider"}, "clipal", o.env)) return e;
    if (f.doc->get({"model_providers", "clipal", "name"}).kind == lookup::absent)
        if (auto e = set_key(f, {"model_providers", "clipal", "name"}, "clipal", o.env)) return e;
    if (auto e = set_key(f, {"model_providers", "clipal", "base_url"}, ep.url(profile::codex), o.env)) return e;
    if (auto e = set_key(f, {"model_providers", "clipal", "wire_api"}, "responses", o.env)) return e;
    if (!ep.access_token.empty())
        if (auto e = set_key(f, {"model_providers", "clipal", "experimental_bearer_token"}, ep.access_token, o.env))
            return e;
    if (const auto p = f.doc->get({"profile"}); p.kind == lookup::string) {
        const auto mp = f.doc->get({"profiles", p.value, "model_provider"});
        if (mp.kind == lookup::string && mp.value != "clipal")
            plan.notes.push_back(fmt::format("{}: profile \"{}\" selects model_provider \"{}\", which Codex uses "
                                             "instead of clipal; change it there or run codex --profile with "
                                             "another profile",
                                             shown(f.file.path, o.env), p.value, mp.value));
    }
    if (const auto k = f.doc->get({"model_providers", "clipal", "env_key"}); k.kind == lookup::string)
        plan.notes.push_back(fmt::format("[model_providers.clipal] has env_key = \"{}\": Codex refuses to start "
                                         "when {} is not set (clipal does not need it)",
                                         k.value, k.value));
    return std::nullopt;
}

std::optional<std::string> plan_gemini(tool_plan& plan, const endpoint& ep, const setup_options& o) {
    auto& settings = plan.files[0];
    auto& dotenv = plan.files[1];
    const key_path selected{"security", "auth", "selectedType"};
    const auto old_type = settings.doc->get(selected);
    if (auto e = set_key(settings, selected, "gemini-api-key", o.env)) return e;
    if (old_type.kind == lookup::string && old_type.value != "gemini-api-key")
        plan.notes.push_back(fmt::format("Gemini CLI signed in with \"{}\" before; `clipal setup --undo gemini` "
                                         "brings that back",
                                         old_type.value));
    if (const auto enforced = settings.doc->get({"security", "auth", "enforcedType"});
        enforced.kind == lookup::string && enforced.value != "gemini-api-key")
        plan.notes.push_back(fmt::format("{} enforces the sign-in \"{}\" (security.auth.enforcedType): Gemini CLI "
                                         "will ask to sign in that way instead of using clipal",
                                         shown(settings.file.path, o.env), enforced.value));
    if (auto e = set_key(dotenv, {"GOOGLE_GEMINI_BASE_URL"}, ep.url(profile::gemini), o.env)) return e;
    if (!ep.access_token.empty()) {
        if (auto e = set_key(dotenv, {"GEMINI_API_KEY"}, ep.access_token, o.env)) return e;
    } else if (dotenv.doc->get({"GEMINI_API_KEY"}).kind == lookup::absent) {
        if (auto e = set_key(dotenv, {"GEMINI_API_KEY"}, setup_placeholder_credential, o.env)) return e;
    }
    const auto home_env = (o.env.gemini_cli_home ? *o.env.gemini_cli_home : o.env.home) / ".env";
    std::error_code ec;
    if (!dotenv.before.exists && fs::exists(home_env, ec))
        plan.notes.push_back(fmt::format("Gemini CLI reads only the first .env it finds, and {} now comes before "
                                         "{}: copy what Gemini CLI needs from the latter",
                                         shown(dotenv.file.path, o.env), shown(home_env, o.env)));
    if (!ep.loopback)
        plan.notes.push_back(fmt::format("Gemini CLI takes an http:// base URL only for localhost, 127.0.0.1 and "
                                         "[::1], not {}",
                                         ep.base()));
    if (o.env.gemini_base_url && *o.env.gemini_base_url != ep.url(profile::gemini))
        plan.notes.push_back(fmt::format("GOOGLE_GEMINI_BASE_URL={} in this environment wins over {}; unset it",
                                         *o.env.gemini_base_url, shown(dotenv.file.path, o.env)));
    plan.notes.push_back(fmt::format("Gemini CLI reads {} only in folders it trusts (it asks on the first start in "
                                     "a folder), and a project's own .env comes before it",
                                     shown(dotenv.file.path, o.env)));
    return std::nullopt;
}

std::optional<std::string> open_tool(profile tool, const setup_options& o, tool_plan& plan) {
    plan = {};
    plan.tool = tool;
    std::vector<tool_file> files;
    if (auto e = files_of(tool, o.env, files)) return e;
    for (const auto& f : files) {
        file_edit edit;
        if (auto e = open_file(f, o.env, edit)) return e;
        plan.files.push_back(std::move(edit));
    }
    return std::nullopt;
}

// How a value is shown: credentials only as what they are.
std::string shown_value(const key_record& k, const std::string& value, const endpoint& ep) {
    if (!ep.access_token.empty() && value == ep.access_token) return "the access_token of config.yaml";
    if (value == setup_placeholder_credential) return fmt::format("\"{}\" (a placeholder)", value);
    const auto name = k.path.back();
    if (setup::mask_secrets(name + "=" + value) != name + "=" + value) return "****";
    return "\"" + value + "\"";
}

std::string backup_name(profile tool, const std::string& role) {
    return fmt::format("{}.{}", info(tool).name, role == ".env" ? "dotenv" : role);
}

void print_notes(const tool_plan& plan, std::ostream& out) {
    for (const auto& n : plan.notes) out << "  note: " << n << "\n";
}

// ---------------------------------------------------------------------------------------
// clipal setup TOOL...

int apply(const setup_options& o, const endpoint& ep, std::ostream& out, std::ostream& err) {
    std::vector<tool_plan> plans;
    std::vector<std::string> errors;
    for (const auto tool : o.tools) {
        tool_plan plan;
        std::optional<std::string> e = open_tool(tool, o, plan);
        if (!e) {
            switch (tool) {
            case profile::claude_code: e = plan_claude(plan, ep, o); break;
            case profile::codex: e = plan_codex(plan, ep, o); break;
            case profile::gemini: e = plan_gemini(plan, ep, o); break;
            }
        }
        if (e)
            errors.push_back(fmt::format("{}: {}", info(tool).name, *e));
        else
            plans.push_back(std::move(plan));
    }
    if (!errors.empty()) {
        for (const auto& e : errors) err << "clipal setup: " << e << "\n";
        err << "clipal setup: nothing was changed\n";
        return exit_setup_failed;
    }

    const std::vector<std::string> keep{std::string(setup_placeholder_credential)};
    if (o.dry_run) {
        for (const auto& plan : plans) {
            bool any = false;
            for (const auto& f : plan.files) {
                if (!f.changed()) continue;
                any = true;
                out << setup::unified_diff(f.before.bytes, f.doc->text(),
                                           f.before.exists ? f.file.path.string() : "/dev/null",
                                           f.file.path.string() + " (after clipal setup)", keep);
            }
            if (!any) out << info(plan.tool).name << ": already points at " << ep.url(plan.tool) << "\n";
            print_notes(plan, out);
        }
        out << "dry run: nothing was changed\n";
        return exit_ok;
    }

    bool wrote = false;
    for (auto& plan : plans) {
        const bool changed =
            std::any_of(plan.files.begin(), plan.files.end(), [](const auto& f) { return f.changed(); });
        if (!changed) {
            out << info(plan.tool).name << ": already points at clipal (" << ep.url(plan.tool)
                << "); nothing to change\n";
            continue;
        }
        std::optional<tool_record> existing;
        if (auto e = load_record(o.config_dir, plan.tool, existing)) {
            err << "clipal setup: " << *e << "\n";
            return exit_setup_failed;
        }
        tool_record record = existing.value_or(tool_record{std::string(info(plan.tool).name), {}});
        std::vector<fs::path> ignored;
        if (auto e = setup::create_directories(backup_dir(o.config_dir), ignored)) {
            err << "clipal setup: " << *e << "\n";
            return exit_setup_failed;
        }
        // Backups and directories first, then the record, then the files: whatever stops
        // this half way, --undo finds the original bytes.
        for (auto& f : plan.files) {
            if (!f.changed()) continue;
            auto it = std::find_if(record.files.begin(), record.files.end(),
                                   [&](const file_record& r) { return r.path == f.file.path; });
            if (it == record.files.end()) {
                file_record r;
                r.role = f.file.role;
                r.path = f.file.path;
                r.existed = f.before.exists;
                r.backup = backup_name(plan.tool, f.file.role);
                r.mode = static_cast<unsigned>(f.before.mode & fs::perms::mask);
                if (f.before.exists) {
                    if (auto e = setup::write_atomically(backup_dir(o.config_dir) / r.backup, f.before.bytes,
                                                         fs::perms::owner_read | fs::perms::owner_write)) {
                        err << "clipal setup: " << *e << "; nothing was changed\n";
                        return exit_setup_failed;
                    }
                }
                record.files.push_back(std::move(r));
                it = record.files.end() - 1;
            }
            for (const auto& change : f.changes) {
                auto k = std::find_if(it->keys.begin(), it->keys.end(),
                                      [&](const key_record& r) { return r.path == change.path; });
                if (k == it->keys.end())
                    it->keys.push_back(change);
                else
                    k->new_value = change.new_value; // the first old value is the one to go back to
            }
            it->written_sha256 = setup::sha256_hex(f.doc->text());
            if (auto e = setup::create_directories(setup::write_target(f.file.path).parent_path(), it->created_dirs)) {
                err << "clipal setup: " << *e << "\n";
                return exit_setup_failed;
            }
        }
        if (auto e = setup::write_atomically(record_path(o.config_dir, plan.tool), setup::to_json(record),
                                             fs::perms::owner_read | fs::perms::owner_write)) {
            err << "clipal setup: " << *e << "; nothing was changed\n";
            return exit_setup_failed;
        }
        out << info(plan.tool).name << ": points at " << ep.url(plan.tool) << " now\n";
        for (auto& f : plan.files) {
            if (!f.changed()) continue;
            const auto mode = f.before.exists ? f.before.mode : fs::perms::owner_read | fs::perms::owner_write;
            if (auto e = setup::write_atomically(f.file.path, f.doc->text(), mode)) {
                err << "clipal setup: " << *e << "\n";
                err << "clipal setup: `clipal setup --undo " << info(plan.tool).name
                    << "` puts back what was written\n";
                return exit_setup_failed;
            }
            wrote = true;
            out << "  " << (f.before.exists ? "edited " : "created ") << shown(f.file.path, o.env) << ":";
            std::string sep = " ";
            for (const auto& k : f.changes) {
                if (k.container) continue;
                out << sep << (k.old_value ? "set " : "added ") << setup::dotted(k.path) << " = "
                    << shown_value(k, k.new_value, ep);
                sep = ", ";
            }
            out << "\n";
        }
        print_notes(plan, out);
    }
    if (wrote)
        out << "Backups are in " << backup_dir(o.config_dir).string()
            << "; `clipal setup --undo all` puts the files back. Restart running sessions of the tools.\n";
    return exit_ok;
}

// ---------------------------------------------------------------------------------------
// clipal setup --undo TOOL...

struct undo_step {
    file_record rec;
    enum kind_t { nothing, write, remove } kind = nothing;
    bool current_exists = false;
    std::string current;
    std::string result; // for `write`
    fs::perms mode{};
    std::string how; // what the summary says
};

std::optional<std::string> plan_undo(const tool_record& record, const setup_options& o, std::vector<undo_step>& steps,
                                     std::vector<std::string>& notes) {
    for (const auto& r : record.files) {
        undo_step s;
        s.rec = r;
        file_contents current;
        if (auto e = setup::read_file(r.path, current)) return e;
        s.current_exists = current.exists;
        s.current = current.bytes;
        const bool untouched = current.exists && setup::sha256_hex(current.bytes) == r.written_sha256;
        if (untouched || !current.exists) {
            if (!r.existed) {
                if (current.exists) {
                    s.kind = undo_step::remove;
                    s.how = "removed " + shown(r.path, o.env) + " (clipal setup had created it)";
                }
            } else {
                file_contents backup;
                const auto backup_path = backup_dir(o.config_dir) / r.backup;
                if (auto e = setup::read_file(backup_path, backup)) return e;
                if (!backup.exists) return fmt::format("the backup {} is missing", backup_path.string());
                s.kind = undo_step::write;
                s.result = backup.bytes;
                s.mode = static_cast<fs::perms>(r.mode) & fs::perms::mask;
                s.how = "restored " + shown(r.path, o.env);
            }
            steps.push_back(std::move(s));
            continue;
        }
        // Changed since clipal setup wrote it: take out only what clipal put in.
        const auto format = r.role == ".env"          ? file_format::dotenv
                            : r.role == "config.toml" ? file_format::toml
                                                      : file_format::json;
        auto parsed = document::parse(format, current.bytes);
        if (auto* e = std::get_if<edit_error>(&parsed))
            return fmt::format("{}: {}; clipal setup does not touch a file it cannot read", shown(r.path, o.env),
                               e->to_string());
        auto& doc = std::get<document>(parsed);
        for (auto k = r.keys.rbegin(); k != r.keys.rend(); ++k) {
            std::optional<edit_error> e;
            if (k->container) {
                e = doc.remove_if_empty(k->path);
            } else if (const auto now = doc.get(k->path); now.kind == lookup::string && now.value == k->new_value) {
                e = k->old_value ? doc.set(k->path, *k->old_value) : doc.remove(k->path);
            } else if (now.kind != lookup::absent || k->old_value) {
                notes.push_back(fmt::format("{}: left {} as it is: it was changed after clipal setup",
                                            shown(r.path, o.env), setup::dotted(k->path)));
            }
            if (e) return fmt::format("{}: {}", shown(r.path, o.env), e->to_string());
        }
        if (!r.existed && doc.empty()) {
            s.kind = undo_step::remove;
            s.how = "removed " + shown(r.path, o.env) + " (clipal setup had created it)";
        } else {
            s.kind = undo_step::write;
            s.result = doc.text();
            s.mode = current.mode;
            s.how = "took clipal's settings out of " + shown(r.path, o.env) +
                    " (it was changed after clipal setup; the rest is kept)";
        }
        steps.push_back(std::move(s));
    }
    return std::nullopt;
}

int undo(const setup_options& o, std::ostream& out, std::ostream& err) {
    struct tool_undo {
        profile tool;
        tool_record record;
        std::vector<undo_step> steps;
        std::vector<std::string> notes;
    };
    std::vector<tool_undo> undos;
    std::vector<std::string> errors;
    for (const auto tool : o.tools) {
        std::optional<tool_record> record;
        if (auto e = load_record(o.config_dir, tool, record)) {
            errors.push_back(fmt::format("{}: {}", info(tool).name, *e));
            continue;
        }
        if (!record) {
            out << info(tool).name << ": nothing to undo (clipal setup has not changed it)\n";
            continue;
        }
        tool_undo u{tool, *record, {}, {}};
        if (auto e = plan_undo(*record, o, u.steps, u.notes))
            errors.push_back(fmt::format("{}: {}", info(tool).name, *e));
        else
            undos.push_back(std::move(u));
    }
    if (!errors.empty()) {
        for (const auto& e : errors) err << "clipal setup: " << e << "\n";
        err << "clipal setup: nothing was changed\n";
        return exit_setup_failed;
    }
    if (o.dry_run) {
        for (const auto& u : undos)
            for (const auto& s : u.steps) {
                if (s.kind == undo_step::nothing) continue;
                const auto after = s.kind == undo_step::remove ? std::string() : s.result;
                out << setup::unified_diff(s.current_exists ? s.current : std::string(), after,
                                           s.current_exists ? s.rec.path.string() : "/dev/null",
                                           s.kind == undo_step::remove ? "/dev/null"
                                                                       : s.rec.path.string() + " (after --undo)",
                                           {std::string(setup_placeholder_credential)});
            }
        out << "dry run: nothing was changed\n";
        return exit_ok;
    }
    for (const auto& u : undos) {
        out << info(u.tool).name << ":";
        std::string sep = " ";
        for (const auto& s : u.steps) {
            if (s.kind == undo_step::write) {
                if (auto e = setup::write_atomically(s.rec.path, s.result, s.mode)) {
                    err << "\nclipal setup: " << *e << "\n";
                    return exit_setup_failed;
                }
            } else if (s.kind == undo_step::remove) {
                std::error_code ec;
                if (!fs::remove(setup::write_target(s.rec.path), ec) && ec) {
                    err << "\nclipal setup: cannot remove " << s.rec.path.string() << ": " << ec.message() << "\n";
                    return exit_setup_failed;
                }
            }
            if (s.kind != undo_step::nothing) {
                out << sep << s.how;
                sep = "; ";
            }
        }
        if (sep == " ") out << " its files were already as before clipal setup";
        out << "\n";
        for (const auto& n : u.notes) out << "  note: " << n << "\n";
        std::error_code ec;
        for (const auto& s : u.steps) {
            // Directories clipal setup created, innermost first, while they are empty.
            for (auto d = s.rec.created_dirs.rbegin(); d != s.rec.created_dirs.rend(); ++d)
                if (fs::is_empty(*d, ec)) fs::remove(*d, ec);
            if (s.rec.existed) fs::remove(backup_dir(o.config_dir) / s.rec.backup, ec);
        }
        fs::remove(record_path(o.config_dir, u.tool), ec);
    }
    std::error_code ec;
    if (fs::is_empty(backup_dir(o.config_dir), ec)) fs::remove(backup_dir(o.config_dir), ec);
    return exit_ok;
}

// ---------------------------------------------------------------------------------------
// clipal setup --status

struct tool_status {
    std::string verdict; // "points at clipal: …", "points elsewhere: …", "not configured …", "cannot tell: …"
    std::vector<std::string> notes;
};

tool_status status_of(profile tool, const setup_options& o, const endpoint& ep) {
    tool_plan plan;
    if (auto e = open_tool(tool, o, plan)) return {"cannot tell: " + *e, {}};
    const auto expected = ep.url(tool);
    const auto verdict = [&](const std::string& url, const std::string& where) {
        if (url == expected) return fmt::format("points at clipal: {} ({})", url, where);
        return fmt::format("points elsewhere: {} ({})", url, where);
    };
    tool_status st;
    switch (tool) {
    case profile::claude_code: {
        const auto& f = plan.files.front();
        const auto where = shown(f.file.path, o.env);
        const std::pair<const char*, const char*> elsewhere[] = {{"CLAUDE_CODE_USE_BEDROCK", "Amazon Bedrock"},
                                                                 {"CLAUDE_CODE_USE_VERTEX", "Google Vertex AI"},
                                                                 {"CLAUDE_CODE_USE_FOUNDRY", "Microsoft Foundry"}};
        for (const auto& [var, name] : elsewhere)
            if (truthy(f.doc->get({"env", var})))
                return {fmt::format("points elsewhere: {} (env.{} in {})", name, var, where), {}};
        const auto url = f.doc->get({"env", "ANTHROPIC_BASE_URL"});
        if (url.kind != lookup::string) {
            st.verdict =
                fmt::format("not configured: Claude Code talks to Anthropic (no env.ANTHROPIC_BASE_URL in {})", where);
        } else {
            st.verdict = verdict(url.value, "env.ANTHROPIC_BASE_URL in " + where);
        }
        break;
    }
    case profile::codex: {
        const auto& f = plan.files.front();
        const auto where = shown(f.file.path, o.env);
        std::string provider = "openai";
        std::string source = "Codex's default";
        if (const auto mp = f.doc->get({"model_provider"}); mp.kind == lookup::string) {
            provider = mp.value;
            source = "model_provider in " + where;
        }
        if (const auto p = f.doc->get({"profile"}); p.kind == lookup::string)
            if (const auto pmp = f.doc->get({"profiles", p.value, "model_provider"}); pmp.kind == lookup::string) {
                provider = pmp.value;
                source = fmt::format("profile \"{}\" in {}", p.value, where);
            }
        const auto base = f.doc->get({"model_providers", provider, "base_url"});
        if (base.kind == lookup::string) {
            st.verdict = verdict(base.value, fmt::format("model provider \"{}\", {}", provider, source));
            if (base.value == expected)
                if (const auto wire = f.doc->get({"model_providers", provider, "wire_api"});
                    wire.kind == lookup::string && wire.value != "responses")
                    st.notes.push_back(
                        fmt::format("wire_api is \"{}\"; Codex talks to clipal with \"responses\"", wire.value));
        } else if (provider == "openai") {
            if (const auto ob = f.doc->get({"openai_base_url"}); ob.kind == lookup::string)
                st.verdict = verdict(ob.value, "openai_base_url in " + where);
            else
                st.verdict = fmt::format("not configured: Codex talks to OpenAI ({})", source);
        } else {
            st.verdict = fmt::format("points elsewhere: Codex's built-in provider \"{}\" ({})", provider, source);
        }
        break;
    }
    case profile::gemini: {
        const auto& settings = plan.files[0];
        const auto& dotenv = plan.files[1];
        std::optional<std::pair<std::string, std::string>> url;
        if (o.env.gemini_base_url)
            url = {{*o.env.gemini_base_url, "GOOGLE_GEMINI_BASE_URL in this environment"}};
        else if (const auto v = dotenv.doc->get({"GOOGLE_GEMINI_BASE_URL"}); v.kind == lookup::string)
            url = {{v.value, "GOOGLE_GEMINI_BASE_URL in " + shown(dotenv.file.path, o.env)}};
        const auto type = settings.doc->get({"security", "auth", "selectedType"});
        if (!url) {
            st.verdict = fmt::format("not configured: Gemini CLI talks to Google (no GOOGLE_GEMINI_BASE_URL in {})",
                                     shown(dotenv.file.path, o.env));
        } else if (url->first == expected && !(type.kind == lookup::string && type.value == "gemini-api-key")) {
            st.verdict = fmt::format("half set up: {} names clipal, but security.auth.selectedType in {} is {}, not "
                                     "\"gemini-api-key\"",
                                     url->second, shown(settings.file.path, o.env),
                                     type.kind == lookup::string ? "\"" + type.value + "\"" : "not set");
        } else {
            st.verdict = verdict(url->first, url->second);
        }
        break;
    }
    }
    return st;
}

int status(const setup_options& o, const endpoint& ep, std::ostream& out) {
    out << "clipal listens at " << ep.base() << " (" << (o.config_dir / "config.yaml").string() << ")\n";
    for (const auto& p : all_profiles) {
        auto st = status_of(p.id, o, ep);
        out << fmt::format("{:<12} {}\n", p.name, st.verdict);
        for (const auto& n : st.notes) out << "             note: " << n << "\n";
        std::optional<tool_record> record;
        if (!load_record(o.config_dir, p.id, record) && record)
            out << "             changed by clipal setup; `clipal setup --undo " << p.name << "` puts it back\n";
    }
    return exit_ok;
}

std::optional<fs::path> env_path(const char* name) {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return fs::path(v);
}

} // namespace

setup_environment setup_environment::from_process() {
    setup_environment env;
#ifdef _WIN32
    if (auto h = env_path("USERPROFILE")) env.home = *h;
#else
    if (auto h = env_path("HOME")) env.home = *h;
#endif
    env.claude_config_dir = env_path("CLAUDE_CONFIG_DIR");
    env.codex_home = env_path("CODEX_HOME");
    env.gemini_cli_home = env_path("GEMINI_CLI_HOME");
    if (const char* v = std::getenv("GOOGLE_GEMINI_BASE_URL"); v != nullptr && *v != '\0') env.gemini_base_url = v;
    return env;
}

std::optional<std::vector<profile>> setup_tools_from_string(std::string_view name) {
    if (name == "all") return std::vector<profile>{profile::claude_code, profile::codex, profile::gemini};
    if (const auto p = profile_from_name(name)) return std::vector<profile>{*p};
    return std::nullopt;
}

int run_setup(const setup_options& options, std::ostream& out, std::ostream& err) {
    try {
        // --undo needs only the record: it works with a broken config.yaml too.
        if (options.action == setup_action::undo) return undo(options, out, err);
        int code = exit_ok;
        const auto ep = load_endpoint(options, err, code);
        if (!ep) return code;
        if (options.action == setup_action::status) return status(options, *ep, out);
        return apply(options, *ep, out, err);
    } catch (const std::exception& e) {
        err << "clipal setup: " << e.what() << "\n";
        return exit_setup_failed;
    }
    return exit_usage;
}

} // namespace clipal::app
