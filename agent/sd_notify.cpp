// The notification protocol (sd_notify(3), "Notify socket" in systemd.io):
// one datagram of NAME=value lines to the AF_UNIX socket $NOTIFY_SOCKET
// names, a path or, with a leading '@', an abstract name. Spoken here
// rather than through libsystemd, which would load six more libraries
// (libgcrypt, liblzma, libzstd, ...) into every `wanlb` command, `wanlb
// reload` included, for one sendto().
#include "sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <spdlog/spdlog.h>

namespace wanlb {

namespace {

// STATUS= takes one line: systemd cuts at the first newline anyway, but the
// rest of the message would then be read as more assignments.
std::string one_line(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

// 0 when there is no notify socket, -errno on failure.
int sd_send(const std::string& message) {
  const char* path = std::getenv("NOTIFY_SOCKET");  // kept: the agent notifies many times over its life
  if (!path || !*path) return 0;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const size_t len = std::strlen(path);
  if ((path[0] != '/' && path[0] != '@') || len >= sizeof(addr.sun_path)) return -EAFNOSUPPORT;
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  ssize_t n = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr),
                       static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len));
  int err = errno;
  ::close(fd);
  return n < 0 ? -err : 0;
}

void send(const std::string& message) {
  int r = sd_send(message);
  if (r < 0) spdlog::debug("sd_notify({}): {}", message, std::strerror(-r));
}

}  // namespace

void notify_ready(const std::string& status) {
  std::string msg = "READY=1";
  if (!status.empty()) msg += "\nSTATUS=" + one_line(status);
  send(msg);
}

void notify_status(const std::string& status) { send("STATUS=" + one_line(status)); }

void notify_stopping() { send("STOPPING=1"); }

void notify_reloading() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  unsigned long long usec =
      static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL + static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

}  // namespace wanlb
