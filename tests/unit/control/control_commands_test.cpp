#include "app/control_commands.hpp"

#include "supervisor/control_server.hpp"
#include "supervisor/control_socket_path.hpp"
#include "support/temp_dir.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <sstream>
#include <thread>

namespace asio = boost::asio;
namespace json = boost::json;
using clipal::supervisor::control_server;

namespace {

// A stand-in supervisor: a control server at the real socket path of a fresh config dir,
// answering with whatever the test sets.
class fake_supervisor {
public:
    explicit fake_supervisor(std::function<json::value(const std::string&)> answer)
        : socket_(clipal::supervisor::control_socket_path(config_.path())),
          server_(ioc_.get_executor(), socket_, config_.path(),
                  [answer = std::move(answer)](const std::string& command, control_server::responder respond) {
                      respond(answer(command));
                  }) {
        server_.start();
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~fake_supervisor() {
        asio::post(ioc_, [this] { server_.stop(); });
        thread_.join();
    }
    const std::filesystem::path& config_dir() const { return config_.path(); }

private:
    clipal::test::temp_dir config_;
    std::filesystem::path socket_;
    asio::io_context ioc_;
    control_server server_;
    std::thread thread_;
};

const char* status_line =
    R"({"version":"0.1.0","pid":123,"uptime_seconds":12.3,"listen":"127.0.0.1:3333","config_dir":"/home/u/.clipal",)"
    R"("last_reload":{"ok":true,"time":"2026-11-26T12:00:00Z","error":null},)"
    R"("workers":[{"profile":"codex","prefix":"/codex","state":"ready","pid":124,"restarts":0,"uptime_seconds":11.9,)"
    R"("last_exit":null,"providers":[{"name":"openai-main","state":"active","until":null,"reason":null,)"
    R"("current":true,"requests":3,"failures":1}]}]})";

} // namespace

TEST(ControlCommands, NothingRunningSaysSoAndExitsThree) {
    clipal::test::temp_dir config;
    const auto socket = clipal::supervisor::control_socket_path(config.path());
    std::ostringstream out, err;
    EXPECT_EQ(clipal::app::run_status(config.path(), false, out, err), clipal::app::exit_not_running);
    EXPECT_EQ(err.str(), "clipal is not running for config dir " + config.path().string() + " (no control socket at " +
                             socket.string() + ")\n");
    EXPECT_EQ(out.str(), "");
    EXPECT_EQ(clipal::app::run_reload(config.path(), out, err), clipal::app::exit_not_running);
    EXPECT_EQ(clipal::app::run_stop(config.path(), out, err), clipal::app::exit_not_running);
}

TEST(ControlCommands, StaleSocketMeansNotRunning) {
    clipal::test::temp_dir config;
    const auto socket = clipal::supervisor::control_socket_path(config.path());
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
    std::ostringstream out, err;
    EXPECT_EQ(clipal::app::run_status(config.path(), false, out, err), clipal::app::exit_not_running);
    EXPECT_NE(err.str().find("(stale control socket at " + socket.string() + ")"), std::string::npos) << err.str();
    std::filesystem::remove(socket);
}

TEST(ControlCommands, StatusJsonIsPrintedVerbatim) {
    fake_supervisor sup([](const std::string&) { return json::parse(status_line); });
    std::ostringstream out, err;
    EXPECT_EQ(clipal::app::run_status(sup.config_dir(), true, out, err), 0) << err.str();
    // Exactly the line the supervisor sent (Boost.JSON's own serialisation of the value).
    EXPECT_EQ(out.str(), json::serialize(json::parse(status_line)) + "\n");
}

TEST(ControlCommands, StatusPrintsTheTable) {
    fake_supervisor sup([](const std::string&) { return json::parse(status_line); });
    std::ostringstream out, err;
    EXPECT_EQ(clipal::app::run_status(sup.config_dir(), false, out, err), 0) << err.str();
    EXPECT_NE(out.str().find("clipal 0.1.0 (pid 123), up 12s"), std::string::npos) << out.str();
    EXPECT_NE(out.str().find("openai-main"), std::string::npos) << out.str();
}

TEST(ControlCommands, ReloadReportsSuccess) {
    std::string asked;
    fake_supervisor sup([&](const std::string& c) {
        asked = c;
        return json::value(json::object{{"ok", true}, {"error", nullptr}});
    });
    std::ostringstream out, err;
    EXPECT_EQ(clipal::app::run_reload(sup.config_dir(), out, err), 0) << err.str();
    EXPECT_EQ(asked, "reload");
    EXPECT_EQ(out.str(), "clipal reloaded config dir " + sup.config_dir().string() + "\n");
}

TEST(ControlCommands, RejectedReloadPrintsTheSupervisorsError) {
    fake_supervisor sup([](const std::string&) {
        return control_server::error_reply("codex.yaml:3: providers[0].base_url: must not be empty");
    });
    std::ostringstream out, err;
    EXPECT_EQ(clipal::app::run_reload(sup.config_dir(), out, err), clipal::app::exit_control_failed);
    EXPECT_EQ(err.str(), "clipal reload: codex.yaml:3: providers[0].base_url: must not be empty\n");
}

TEST(ControlCommands, StopWithoutWaitingReturnsOnAcknowledge) {
    fake_supervisor sup([](const std::string&) { return json::value(json::object{{"ok", true}, {"pid", 4242}}); });
    std::ostringstream out, err;
    clipal::app::control_client_options o;
    o.stop_wait = std::chrono::milliseconds(0);
    EXPECT_EQ(clipal::app::run_stop(sup.config_dir(), out, err, o), 0) << err.str();
    EXPECT_EQ(out.str(), "stopping clipal (pid 4242) for config dir " + sup.config_dir().string() + "\n");
}

TEST(ControlCommands, StopWaitsUntilTheProcessHasExited) {
    // An exited but unreaped child (a zombie) must count as stopped.
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) ::_exit(0);
    fake_supervisor sup([child](const std::string&) {
        return json::value(json::object{{"ok", true}, {"pid", child}});
    });
    std::ostringstream out, err;
    clipal::app::control_client_options o;
    o.stop_wait = std::chrono::seconds(20);
    EXPECT_EQ(clipal::app::run_stop(sup.config_dir(), out, err, o), 0) << err.str();
    EXPECT_NE(out.str().find("clipal stopped"), std::string::npos) << out.str();
    ::waitpid(child, nullptr, 0);
}

TEST(ControlCommands, StopThatDoesNotFinishInTimeFails) {
    fake_supervisor sup([](const std::string&) {
        return json::value(json::object{{"ok", true}, {"pid", ::getpid()}});
    });
    std::ostringstream out, err;
    clipal::app::control_client_options o;
    o.stop_wait = std::chrono::milliseconds(100);
    EXPECT_EQ(clipal::app::run_stop(sup.config_dir(), out, err, o), clipal::app::exit_control_failed);
    EXPECT_NE(err.str().find("is still running"), std::string::npos) << err.str();
}
