// Templates of the three service definitions. The comments inside them are for people who
// install by hand from service-files/; keep them true for both uses.
#include "app/service_files.hpp"

namespace clipal::app {

std::string systemd_unit(std::string_view exec, std::string_view config_dir) {
    const std::string e(exec);
    const std::string d(config_dir);
    return "# clipal as a systemd user service (docs/linux.md). `clipal service install` writes this file\n"
           "# with the real paths; to install it by hand instead, copy it to ~/.config/systemd/user/, adjust\n"
           "# ExecStart/ExecReload if clipal or its config live elsewhere than below, then run\n"
           "#   systemctl --user daemon-reload && systemctl --user enable --now clipal\n"
           "[Unit]\n"
           "Description=clipal: local LLM API proxy with provider failover\n"
           "Documentation=https://github.com/clipal-dev/clipal\n"
           "\n"
           "[Service]\n"
           "# clipal reports READY=1 once its listener is bound, STOPPING=1, RELOADING=1 and watchdog pings.\n"
           "Type=notify\n"
           "NotifyAccess=main\n"
           "ExecStart=" +
           e + " --config-dir " + d +
           "\n"
           "ExecReload=" +
           e + " reload --config-dir " + d +
           "\n"
           "# SIGTERM to the supervisor only: it drains in-flight streams (up to 120 s) and stops its workers.\n"
           "KillMode=mixed\n"
           "TimeoutStopSec=150\n"
           "Restart=on-failure\n"
           "RestartSec=2\n"
           "# 78 = configuration error: restarting cannot help until the config is fixed (`clipal check`).\n"
           "RestartPreventExitStatus=78\n"
           "WatchdogSec=30\n"
           "# Descriptors per process (clipal raises its soft limit to this hard one): a connection in\n"
           "# flight holds two (client, upstream); past max_connections a process refuses new ones.\n"
           "LimitNOFILE=65536\n"
           "\n"
           "[Install]\n"
           "WantedBy=default.target\n";
}

std::string systemd_word(std::string_view path) {
    std::string escaped;
    bool quote = false;
    for (const char c : path) {
        if (c == '%') {
            escaped += "%%";
            continue;
        }
        if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '\\' || c == '$' || c == ';') quote = true;
        if (c == '\\' || c == '"') escaped += '\\';
        // "$$" is a literal '$' in ExecStart (a single one would start a variable).
        if (c == '$') escaped += '$';
        escaped += c;
    }
    return quote ? "\"" + escaped + "\"" : escaped;
}

std::string xml_escape(std::string_view s) {
    std::string out;
    for (const char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&apos;"; break;
        default: out += c;
        }
    }
    return out;
}

std::string launchd_plist(std::string_view exec, std::string_view config_dir, std::string_view log_dir) {
    const auto e = xml_escape(exec);
    const auto d = xml_escape(config_dir);
    const auto l = xml_escape(log_dir);
    const auto label = xml_escape(launchd_label);
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
           "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
           "<!-- clipal as a LaunchAgent (docs/macos.md). `clipal service install` writes this file with the\n"
           "     real paths; by hand: replace YOU below, copy it to ~/Library/LaunchAgents/" +
           label +
           ".plist,\n"
           "     mkdir -p ~/Library/Logs/clipal, then: launchctl bootstrap gui/$(id -u) ~/Library/LaunchAgents/" +
           label +
           ".plist -->\n"
           "<plist version=\"1.0\">\n"
           "<dict>\n"
           "  <key>Label</key>\n"
           "  <string>" +
           label +
           "</string>\n"
           "  <key>ProgramArguments</key>\n"
           "  <array>\n"
           "    <string>" +
           e +
           "</string>\n"
           "    <string>--config-dir</string>\n"
           "    <string>" +
           d +
           "</string>\n"
           "  </array>\n"
           "  <key>RunAtLoad</key>\n"
           "  <true/>\n"
           "  <!-- Restart after a crash or error exit, but not after `clipal stop` (exit 0). -->\n"
           "  <key>KeepAlive</key>\n"
           "  <dict>\n"
           "    <key>SuccessfulExit</key>\n"
           "    <false/>\n"
           "  </dict>\n"
           "  <key>ThrottleInterval</key>\n"
           "  <integer>5</integer>\n"
           "  <!-- SIGTERM lets in-flight streams finish (up to 120 s) before launchd sends SIGKILL. -->\n"
           "  <key>ExitTimeOut</key>\n"
           "  <integer>150</integer>\n"
           "  <key>StandardOutPath</key>\n"
           "  <string>" +
           l +
           "/clipal.out.log</string>\n"
           "  <key>StandardErrorPath</key>\n"
           "  <string>" +
           l +
           "/clipal.err.log</string>\n"
           "</dict>\n"
           "</plist>\n";
}

std::string windows_quote(std::string_view arg) {
    std::string out = "\"";
    std::size_t backslashes = 0;
    for (const char c : arg) {
        if (c == '\\') {
            ++backslashes;
            continue;
        }
        // Backslashes are literal unless a quote follows them: then each must be doubled.
        out.append(c == '"' ? backslashes * 2 + 1 : backslashes, '\\');
        backslashes = 0;
        out += c;
    }
    out.append(backslashes * 2, '\\');
    return out + "\"";
}

std::string windows_task_xml(std::string_view exec, std::string_view config_dir, std::string_view user) {
    const auto u = xml_escape(user);
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
           "<!-- clipal as a Task Scheduler task (docs/windows.md). `clipal service install` registers it with the\n"
           "     real paths; by hand: replace COMPUTER\\you and the paths, then\n"
           "     schtasks /Create /TN clipal /XML clipal-task.xml -->\n"
           "<Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\n"
           "  <RegistrationInfo>\n"
           "    <Description>clipal: local LLM API proxy with provider failover</Description>\n"
           "  </RegistrationInfo>\n"
           "  <Triggers>\n"
           "    <LogonTrigger>\n"
           "      <Enabled>true</Enabled>\n"
           "      <UserId>" +
           u +
           "</UserId>\n"
           "    </LogonTrigger>\n"
           "  </Triggers>\n"
           "  <Principals>\n"
           "    <Principal id=\"Author\">\n"
           "      <UserId>" +
           u +
           "</UserId>\n"
           "      <LogonType>InteractiveToken</LogonType>\n"
           "      <RunLevel>LeastPrivilege</RunLevel>\n"
           "    </Principal>\n"
           "  </Principals>\n"
           "  <Settings>\n"
           "    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>\n"
           "    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>\n"
           "    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>\n"
           "    <StartWhenAvailable>true</StartWhenAvailable>\n"
           "    <IdleSettings>\n"
           "      <StopOnIdleEnd>false</StopOnIdleEnd>\n"
           "      <RestartOnIdle>false</RestartOnIdle>\n"
           "    </IdleSettings>\n"
           "    <!-- PT0S: no time limit; the proxy runs until logoff or `clipal service stop`. -->\n"
           "    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>\n"
           "    <RestartOnFailure>\n"
           "      <Interval>PT1M</Interval>\n"
           "      <Count>10</Count>\n"
           "    </RestartOnFailure>\n"
           "  </Settings>\n"
           "  <Actions Context=\"Author\">\n"
           "    <Exec>\n"
           "      <Command>" +
           xml_escape(exec) +
           "</Command>\n"
           "      <Arguments>--config-dir " +
           xml_escape(windows_quote(config_dir)) +
           "</Arguments>\n"
           "    </Exec>\n"
           "  </Actions>\n"
           "</Task>\n";
}

} // namespace clipal::app
