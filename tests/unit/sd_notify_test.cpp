// The notify protocol spoken without libsystemd: what reaches $NOTIFY_SOCKET.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sd_notify.h"

namespace wanlb {
namespace {

// A datagram socket bound at `name` (a path, or "@..." for an abstract
// name), exported as NOTIFY_SOCKET for the test's lifetime.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) : name_(name) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, name.data(), name.size());
    if (name[0] == '@') a.sun_path[0] = '\0';
    bound_ = fd_ >= 0 && bind(fd_, reinterpret_cast<sockaddr*>(&a),
                              static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size())) == 0;
    setenv("NOTIFY_SOCKET", name.c_str(), 1);
  }
  ~NotifySocket() {
    unsetenv("NOTIFY_SOCKET");
    if (fd_ >= 0) close(fd_);
    if (name_[0] == '/') unlink(name_.c_str());
  }
  bool bound() const { return bound_; }
  std::string next() {
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    return n < 0 ? "(nothing)" : std::string(buf, static_cast<size_t>(n));
  }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
};

TEST(SdNotify, MessagesReachAPathSocket) {
  char dir[] = "/tmp/wanlb-notify.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  {
    NotifySocket s(std::string(dir) + "/notify");
    ASSERT_TRUE(s.bound());
    notify_ready("2 WANs\nsecond line");
    EXPECT_EQ(s.next(), "READY=1\nSTATUS=2 WANs second line");
    notify_stopping();
    EXPECT_EQ(s.next(), "STOPPING=1");
    notify_reloading();
    EXPECT_EQ(s.next().rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u);
  }
  rmdir(dir);
}

TEST(SdNotify, MessagesReachAnAbstractSocket) {
  NotifySocket s("@wanlb-notify-test-" + std::to_string(getpid()));
  ASSERT_TRUE(s.bound());
  notify_status("isp2 down");
  EXPECT_EQ(s.next(), "STATUS=isp2 down");
}

TEST(SdNotify, NoSocketOrABadOneIsANoOp) {
  unsetenv("NOTIFY_SOCKET");
  EXPECT_NO_THROW(notify_ready("x"));
  setenv("NOTIFY_SOCKET", "relative/name", 1);
  EXPECT_NO_THROW(notify_ready("x"));
  setenv("NOTIFY_SOCKET", "/nonexistent/wanlb/notify", 1);
  EXPECT_NO_THROW(notify_ready("x"));
  unsetenv("NOTIFY_SOCKET");
}

}  // namespace
}  // namespace wanlb
