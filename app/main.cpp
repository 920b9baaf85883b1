// clipal's single entry point: parses the command line and hands over to the role asked
// for (supervisor by default, `check`, the hidden `worker`, control commands).
#include "app/check_command.hpp"
#include "app/control_commands.hpp"
#include "app/service_command.hpp"
#include "app/setup_command.hpp"
#include "app/update_command.hpp"
#include "app/usage_command.hpp"
#include "clipal/version.hpp"
#include "shared/config_loader.hpp"
#include "shared/exit_codes.hpp"
#include "supervisor/supervisor.hpp"
#include "worker/worker_main.hpp"

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

namespace po = boost::program_options;

namespace {

struct common_flags {
    std::optional<std::string> config_dir;
    clipal::config_overrides overrides;
};

void add_common(po::options_description& d) {
    d.add_options()("config-dir", po::value<std::string>(),
                    "config directory (default $CLIPAL_CONFIG_DIR, else ~/.clipal)")(
        "listen-addr", po::value<std::string>(), "listen address, overrides config.yaml")(
        "port", po::value<long long>(), "listen port, overrides config.yaml (0: any free port, see `clipal status`)")(
        "log-level", po::value<std::string>(), "debug | info | warn | error, overrides config.yaml");
}

// Throws po::error with a user-facing message on bad values.
common_flags read_common(const po::variables_map& vm) {
    common_flags f;
    if (vm.count("config-dir")) f.config_dir = vm["config-dir"].as<std::string>();
    if (vm.count("listen-addr")) f.overrides.listen_addr = vm["listen-addr"].as<std::string>();
    if (vm.count("port")) {
        const auto p = vm["port"].as<long long>();
        // 0 only here, not in config.yaml: a port that changes on every start suits a
        // one-off run (tests, several instances), not a config tools are pointed at.
        if (p < 0 || p > 65535) throw po::error("--port must be between 0 and 65535, got " + std::to_string(p));
        f.overrides.port = static_cast<std::uint16_t>(p);
    }
    if (vm.count("log-level")) {
        const auto& s = vm["log-level"].as<std::string>();
        auto l = clipal::log_level_from_string(s);
        if (!l) throw po::error("--log-level must be one of debug, info, warn, error, got \"" + s + "\"");
        f.overrides.level = *l;
    }
    return f;
}

// `positional`: the one word after the command that it takes (`clipal setup all`), if any.
po::variables_map parse(const std::vector<std::string>& args, const po::options_description& desc,
                        const char* positional = nullptr) {
    po::variables_map vm;
    po::positional_options_description pos;
    if (positional != nullptr) pos.add(positional, 1);
    po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
    po::notify(vm);
    return vm;
}

int run_worker_command(const po::variables_map& vm, const std::filesystem::path& dir, const common_flags& flags) {
    clipal::worker::worker_options o;
    const std::string name = vm.count("profile") ? vm["profile"].as<std::string>() : "";
    const auto id = clipal::profile_from_name(name);
    if (!id) throw po::error("worker: --profile must be claude-code, codex or gemini, got \"" + name + "\"");
    o.id = *id;
    o.config_dir = dir;
    o.overrides = flags.overrides;
    if (vm.count("listen")) o.listen = vm["listen"].as<std::string>();
    if (vm.count("channel-fd")) o.channel_fd = vm["channel-fd"].as<int>();
    return clipal::worker::run_worker(o);
}

int run_setup_command(const po::variables_map& vm, const std::filesystem::path& dir, const common_flags& flags) {
    clipal::app::setup_options o;
    o.config_dir = dir;
    o.overrides = flags.overrides;
    o.dry_run = vm.count("dry-run") > 0;
    o.env = clipal::app::setup_environment::from_process();
    const bool undo = vm.count("undo") > 0;
    const bool status = vm.count("status") > 0;
    const bool tool = vm.count("tool") > 0;
    if (int(undo) + int(status) + int(tool) != 1)
        throw po::error("setup needs one of: claude-code|codex|gemini|all, --undo TOOL|all, --status");
    if (status && o.dry_run) throw po::error("--status changes nothing; --dry-run does not go with it");
    if (status) {
        o.action = clipal::app::setup_action::status;
    } else {
        o.action = undo ? clipal::app::setup_action::undo : clipal::app::setup_action::apply;
        const auto name = vm[undo ? "undo" : "tool"].as<std::string>();
        const auto tools = clipal::app::setup_tools_from_string(name);
        if (!tools) throw po::error("setup: the tool must be claude-code, codex, gemini or all, got \"" + name + "\"");
        o.tools = *tools;
    }
    return clipal::app::run_setup(o, std::cout, std::cerr);
}

int usage(const po::options_description& desc) {
    std::cout << "usage: clipal [flags]                 run the proxy in the foreground\n"
                 "       clipal check [--config-dir D]  validate a config directory and show what would be loaded\n"
                 "       clipal status [--json|--watch] [--config-dir D]  ask the running clipal for workers and "
                 "providers\n"
                 "                                      (--watch: live view of the last minute and today's tokens)\n"
                 "       clipal reload [--config-dir D] re-read the config now\n"
                 "       clipal stop [--config-dir D]   stop the running clipal (in-flight requests finish)\n"
                 "       clipal usage [--since 24h|7d|30d|DURATION] [--by provider|model|profile|day] [--json] "
                 "[--config-dir D]\n"
                 "                                      requests, failures, tokens and cost from usage.db\n"
                 "       clipal service install|uninstall|start|stop|status [--config-dir D]  run as a user service\n"
                 "       clipal setup claude-code|codex|gemini|all [--dry-run] [--config-dir D]  point the tools at "
                 "this clipal\n"
                 "       clipal setup --undo claude-code|codex|gemini|all [--dry-run]  put their files back\n"
                 "       clipal setup --status          say where each tool points\n"
                 "       clipal update [--check] [--dry-run] [--force] [--endpoint URL]  install the newest release\n"
                 "       clipal --version\n\n"
              << desc;
    return clipal::exit_ok;
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    const std::string command = !args.empty() && !args.front().starts_with("-") ? args.front() : "";
    if (!command.empty()) args.erase(args.begin());
    std::string service_action;
    if (command == "service" && !args.empty() && !args.front().starts_with("-")) {
        service_action = args.front();
        args.erase(args.begin());
    }

    po::options_description desc("flags");
    add_common(desc);
    desc.add_options()("version", "print the version and exit")("help,h", "show this help")(
        "json", "status, usage: print JSON instead of the table")(
        "watch", "status: refresh every second until Ctrl-C (one snapshot when stdout is not a terminal)")(
        "since", po::value<std::string>(), "usage: how far back: 24h (default), 7d, 30d, or a duration like 90m")(
        "by", po::value<std::string>(), "usage: one row per provider (default), model, profile or day")(
        "check", "update: only say whether a newer release exists (exit 0 up to date, 10 available, 1 error)")(
        "dry-run", "update: look everything up, change nothing; setup: print the diff, change nothing")(
        "undo", po::value<std::string>(),
        "setup: put back what `clipal setup` changed for claude-code, codex, gemini or all")(
        "status", "setup: say per tool whether it points at this clipal, elsewhere or nowhere")(
        "force", "update: reinstall the same version, downgrade, or take a pre-release")(
        "endpoint", po::value<std::string>(),
        "update: release URL (default $CLIPAL_UPDATE_ENDPOINT, else the project's)");
    // The worker role is a hidden subcommand: started by the supervisor, or alone for tests.
    po::options_description hidden;
    hidden.add_options()("profile", po::value<std::string>(), "worker: claude-code | codex | gemini")(
        "listen", po::value<std::string>(), "worker: ADDRESS:PORT to accept connections on when run alone")(
        "channel-fd", po::value<int>(),
        "worker: descriptor of the supervisor channel")("tool", po::value<std::string>(),
                                                        "setup: claude-code | codex | gemini | all");
    po::options_description all;
    all.add(desc).add(hidden);
    try {
        const auto vm = parse(args, all, command == "setup" ? "tool" : nullptr);
        if (vm.count("help")) return usage(desc);
        if (vm.count("version")) {
            std::cout << "clipal " << clipal::version << "\n";
            return clipal::exit_ok;
        }
        const auto flags = read_common(vm);
        const auto dir = clipal::resolve_config_dir(flags.config_dir);
        if (command == "check") return clipal::app::run_check(dir, flags.overrides, std::cout);
        if (command == "worker") return run_worker_command(vm, dir, flags);
        if (command == "status" && vm.count("watch")) {
            if (vm.count("json")) throw po::error("--watch and --json do not go together");
            return clipal::app::run_status_watch(dir, ::isatty(STDOUT_FILENO) == 1, std::cout, std::cerr);
        }
        if (command == "status") return clipal::app::run_status(dir, vm.count("json") > 0, std::cout, std::cerr);
        if (command == "reload") return clipal::app::run_reload(dir, std::cout, std::cerr);
        if (command == "stop") return clipal::app::run_stop(dir, std::cout, std::cerr);
        if (command == "usage") {
            clipal::app::usage_options o;
            o.config_dir = dir;
            if (vm.count("since")) o.since = vm["since"].as<std::string>();
            if (vm.count("by")) o.by = vm["by"].as<std::string>();
            o.json = vm.count("json") > 0;
            return clipal::app::run_usage(o, std::cout, std::cerr);
        }
        if (command == "setup") return run_setup_command(vm, dir, flags);
        if (command == "service") return clipal::app::run_service(service_action, dir, std::cout, std::cerr);
        if (command == "update") {
            clipal::app::update_options o;
            o.check = vm.count("check") > 0;
            o.dry_run = vm.count("dry-run") > 0;
            o.force = vm.count("force") > 0;
            if (vm.count("endpoint")) o.endpoint = vm["endpoint"].as<std::string>();
            o.config_dir = dir;
            return clipal::app::run_update(o, std::cout, std::cerr);
        }
        if (!command.empty()) {
            std::cerr << "clipal: unknown command \"" << command << "\" (try clipal --help)\n";
            return clipal::exit_usage;
        }
        clipal::supervisor::supervisor_options so;
        so.config_dir = dir;
        so.overrides = flags.overrides;
        so.command_line.assign(argv, argv + argc);
        return clipal::supervisor::run_supervisor(so);
    } catch (const po::error& e) {
        std::cerr << "clipal: " << e.what() << " (try clipal --help)\n";
        return clipal::exit_usage;
    }
}
