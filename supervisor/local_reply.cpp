#include "supervisor/local_reply.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <memory>

namespace clipal::supervisor {
namespace {

constexpr auto reply_deadline = std::chrono::seconds(5);

// Owns the socket, the bytes and the deadline until the reply is out.
class reply_op : public std::enable_shared_from_this<reply_op> {
public:
    reply_op(boost::asio::ip::tcp::socket s, std::string r)
        : socket_(std::move(s)), response_(std::move(r)), timer_(socket_.get_executor()) {}

    void start() {
        timer_.expires_after(reply_deadline);
        timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
            if (ec) return;
            boost::system::error_code ignored;
            self->socket_.close(ignored);
        });
        boost::asio::async_write(socket_, boost::asio::buffer(response_),
                                 [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                                     if (ec) return self->finish();
                                     boost::system::error_code ignored;
                                     self->socket_.shutdown(boost::asio::socket_base::shutdown_send, ignored);
                                     self->drain();
                                 });
    }

private:
    // Reading until the client closes avoids a RST that could destroy the reply.
    void drain() {
        socket_.async_read_some(boost::asio::buffer(sink_),
                                [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                                    if (ec) return self->finish();
                                    self->drain();
                                });
    }
    void finish() {
        timer_.cancel();
        boost::system::error_code ignored;
        socket_.close(ignored);
    }

    boost::asio::ip::tcp::socket socket_;
    std::string response_;
    boost::asio::steady_timer timer_;
    std::array<char, 4096> sink_{};
};

} // namespace

void send_and_close(boost::asio::ip::tcp::socket s, const local_response& r, bool head_request) {
    std::make_shared<reply_op>(std::move(s), to_wire(r, false, 1, head_request))->start();
}

} // namespace clipal::supervisor
