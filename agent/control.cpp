// The control socket. See control.h.
//
// Decisions worth knowing:
//  * Peer check (SO_PEERCRED): uid 0, the agent's own effective uid (the
//    same user could ptrace the agent anyway; this also lets the unit tests
//    run unprivileged), or the peer's *primary* gid == control_group.
//    SO_PEERCRED carries no supplementary groups, so a user who is only a
//    supplementary member of the group passes the file mode (0660) but is
//    refused here; use `sg GROUP wanlb ...` or make it the primary group.
//  * The handler's reply: an object that has an "ok" member is sent as is;
//    anything else is wrapped as {"ok": true, "result": value}.
//  * A request must be one JSON object on one line (at most 64 KiB). A peer
//    that half-closes after an unterminated line is served as if the line
//    ended there.
//  * on_readable() serves the clients it accepts concurrently (one poll loop,
//    each client with its own 1 s deadline to send its line and another 1 s
//    to take the reply), so a silent client does not hold up others. It keeps
//    accepting for at most 1 s and at most kMaxClients at a time, so it
//    returns within about 2 s plus the time spent in the handler. The handler
//    always runs on the calling thread, one request at a time.
//  * A stale socket file is replaced only if connecting to it is refused; a
//    live one makes the constructor throw. (Two agents starting at the very
//    same moment could still race between bind() and listen(); the agent's
//    other single-instance checks cover that.)
#include "control.h"
#include "poll_time.h"
#include "state_store.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace wanlb {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxRequest = 64 * 1024;          // one request line, newline excluded
constexpr size_t kMaxReply = 256 * 1024 * 1024;    // a sanity bound for the client
constexpr auto kReadTimeout = std::chrono::milliseconds(1000);
constexpr auto kWriteTimeout = std::chrono::milliseconds(1000);
constexpr auto kAcceptWindow = std::chrono::milliseconds(1000);
constexpr size_t kMaxClients = 64;

[[noreturn]] void fail(const std::string& what, const std::string& path, int err) {
  throw std::runtime_error("cannot " + what + " " + path + ": " + std::strerror(err));
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string dump_line(const json& j) {
  // replace: a stray invalid UTF-8 byte must not turn a reply into an exception.
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

json error_reply(const std::string& msg) { return {{"ok", false}, {"error", msg}}; }

sockaddr_un make_addr(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path))
    throw std::runtime_error("bad control socket path (empty or longer than " +
                             std::to_string(sizeof(addr.sun_path) - 1) + " bytes): " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// mkdir -p with 0755: the directory is only a place to find the socket;
// the socket's own mode guards it.
void make_dirs(const std::string& dir) {
  if (dir.empty()) return;
  for (size_t pos = 1;; ++pos) {
    pos = dir.find('/', pos);
    std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) fail("create directory", part, errno);
    if (pos == std::string::npos) break;
  }
}

int connect_unix(int fd, const sockaddr_un& addr) {
  for (;;) {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0) return 0;
    if (errno == EINTR) continue;
    if (errno == EISCONN) return 0;
    return errno;
  }
}

// Milliseconds left until `deadline`, for poll (poll_time.h rounds).
int ms_left(Clock::time_point deadline) {
  auto ns = [](Clock::time_point t) {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
  };
  return poll_ms_until(ns(deadline), ns(Clock::now()));
}

// Read and discard what the peer sent, so closing does not reset its
// connection (a unix socket closed with unread data gives the peer
// ECONNRESET after it has read our reply).
void drain(int fd) {
  char buf[4096];
  for (int i = 0; i < 32; ++i) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
  }
}

// The identity (st_dev, st_ino) of the socket file each server bound, for
// the destructor. control.h has no member for it, so it lives here.
std::mutex g_bound_mutex;
std::map<const void*, std::pair<dev_t, ino_t>> g_bound;

struct Client {
  int fd = -1;
  std::string in;
  std::string out;
  size_t sent = 0;
  bool writing = false;
  bool done = false;
  Clock::time_point deadline;
};

}  // namespace

std::string control_socket_path(const std::string& run_dir) {
  return run_dir + "/" + netns_name() + ".sock";  // named like the state file
}

ControlServer::ControlServer(const std::string& path, gid_t group, Handler handler)
    : path_(path), group_(group), handler_(std::move(handler)) {
  sockaddr_un addr = make_addr(path_);
  make_dirs(dir_of(path_));

  // A socket file already there: replace it only if nobody listens on it.
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) throw std::runtime_error("cannot listen on " + path_ + ": exists and is not a socket");
    Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));  // never wait on a full backlog
    if (probe.get() < 0) fail("create socket for", path_, errno);
    int err = connect_unix(probe.get(), addr);
    if (err == 0 || err == EAGAIN) throw std::runtime_error("another agent listens on " + path_);
    if (err == ECONNREFUSED) {
      if (::unlink(path_.c_str()) != 0 && errno != ENOENT) fail("remove stale socket", path_, errno);
    } else if (err != ENOENT) {
      fail("probe existing socket", path_, err);
    }
  }

  Fd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (sock.get() < 0) fail("create socket for", path_, errno);
  if (::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) fail("bind", path_, errno);
  // Until listen() below, connecting is refused, so nobody gets in before
  // the mode is set.
  try {
    if (group_ == static_cast<gid_t>(-1)) {
      if (::chmod(path_.c_str(), 0600) != 0) fail("chmod", path_, errno);
    } else {
      if (::chown(path_.c_str(), 0, group_) != 0) fail("chown", path_, errno);
      if (::chmod(path_.c_str(), 0660) != 0) fail("chmod", path_, errno);
    }
    if (::stat(path_.c_str(), &st) != 0) fail("stat", path_, errno);
    if (::listen(sock.get(), 16) != 0) fail("listen on", path_, errno);
  } catch (...) {
    ::unlink(path_.c_str());
    throw;
  }
  {
    std::lock_guard<std::mutex> lock(g_bound_mutex);
    g_bound[this] = {st.st_dev, st.st_ino};
  }
  fd_ = sock.release();
}

ControlServer::~ControlServer() {
  // Unlink only our own socket: another agent may have replaced the file
  // (after finding ours stale) in the meantime.
  std::pair<dev_t, ino_t> bound{};
  {
    std::lock_guard<std::mutex> lock(g_bound_mutex);
    auto it = g_bound.find(this);
    if (it != g_bound.end()) {
      bound = it->second;
      g_bound.erase(it);
    }
  }
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == bound.first &&
      st.st_ino == bound.second)
    ::unlink(path_.c_str());
  if (fd_ >= 0) ::close(fd_);
}

int ControlServer::fd() const { return fd_; }

void ControlServer::on_readable() {
  const auto accept_until = Clock::now() + kAcceptWindow;
  std::vector<Client> clients;

  auto start_reply = [](Client& c, const json& reply) {
    c.out = dump_line(reply);
    c.sent = 0;
    c.writing = true;
    c.deadline = Clock::now() + kWriteTimeout;
  };

  auto peer_allowed = [this](int fd) {
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
    return cred.uid == 0 || cred.uid == ::geteuid() || (group_ != static_cast<gid_t>(-1) && cred.gid == group_);
  };

  auto accept_pending = [&] {
    while (clients.size() < kMaxClients) {
      int fd = ::accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
        return;  // EAGAIN, or out of fds/memory: try again on the next call
      }
      Client c;
      c.fd = fd;
      c.deadline = Clock::now() + kReadTimeout;
      if (!peer_allowed(fd)) start_reply(c, error_reply("permission denied"));
      clients.push_back(std::move(c));
    }
  };

  auto serve = [&](Client& c, std::string line) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    json request;
    try {
      request = json::parse(line);
    } catch (const std::exception& e) {
      start_reply(c, error_reply(std::string("bad request: ") + e.what()));
      return;
    }
    if (!request.is_object()) {
      start_reply(c, error_reply("bad request: not a JSON object"));
      return;
    }
    json reply;
    try {
      reply = handler_(request);
      if (!reply.is_object() || !reply.contains("ok")) reply = {{"ok", true}, {"result", std::move(reply)}};
    } catch (const std::exception& e) {
      reply = error_reply(e.what());
    } catch (...) {
      reply = error_reply("internal error");
    }
    start_reply(c, reply);
  };

  auto read_some = [&](Client& c) {
    char buf[4096];
    for (;;) {
      size_t room = std::min(sizeof(buf), kMaxRequest + 1 - c.in.size());
      ssize_t n = ::recv(c.fd, buf, room, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n < 0) {  // reset by the peer
        c.done = true;
        return;
      }
      if (n == 0) {  // EOF: an unterminated line is still a request
        if (c.in.empty()) c.done = true;
        else serve(c, std::move(c.in));
        return;
      }
      size_t old = c.in.size();
      c.in.append(buf, static_cast<size_t>(n));
      size_t nl = c.in.find('\n', old);
      if (nl != std::string::npos) {
        serve(c, c.in.substr(0, nl));
        return;
      }
      if (c.in.size() > kMaxRequest) {
        start_reply(c, error_reply("bad request: longer than " + std::to_string(kMaxRequest) + " bytes"));
        return;
      }
    }
  };

  auto write_some = [](Client& c) {
    while (c.sent < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n < 0) {  // the peer went away
        c.done = true;
        return;
      }
      c.sent += static_cast<size_t>(n);
    }
    drain(c.fd);
    c.done = true;
  };

  accept_pending();
  std::vector<pollfd> pfds;
  while (!clients.empty()) {
    const bool listening = Clock::now() < accept_until && clients.size() < kMaxClients;
    Clock::time_point wake = listening ? accept_until : Clock::time_point::max();
    pfds.clear();
    for (const Client& c : clients) {
      pfds.push_back({c.fd, static_cast<short>(c.writing ? POLLOUT : POLLIN), 0});
      wake = std::min(wake, c.deadline);
    }
    if (listening) pfds.push_back({fd_, POLLIN, 0});
    int rc = ::poll(pfds.data(), pfds.size(), ms_left(wake));
    if (rc < 0 && errno != EINTR) break;  // cannot happen with valid fds; the cleanup below closes them

    // Serve what is ready first, then drop the late ones: a client whose
    // line arrived while the handler ran for someone else is still served.
    for (size_t i = 0; i < clients.size(); ++i) {
      Client& c = clients[i];
      if (rc <= 0 || pfds[i].revents == 0) continue;
      if (c.writing) write_some(c);
      else read_some(c);
      if (!c.done && c.writing && c.sent == 0) write_some(c);  // a reply just became ready
    }
    const auto now = Clock::now();
    for (Client& c : clients) {
      if (!c.done && now >= c.deadline) c.done = true;
      if (c.done) {
        ::close(c.fd);
        c.fd = -1;
      }
    }
    clients.erase(std::remove_if(clients.begin(), clients.end(), [](const Client& c) { return c.fd < 0; }),
                  clients.end());
    if (listening && rc > 0 && pfds.back().revents != 0) accept_pending();
  }
  for (Client& c : clients)
    if (c.fd >= 0) ::close(c.fd);
}

json control_request(const std::string& path, const json& request, int timeout_ms) {
  sockaddr_un addr = make_addr(path);
  const std::string timeout_msg = "the agent did not answer within " + std::to_string(timeout_ms) + " ms";
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));

  Fd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) fail("create socket for", path, errno);
  // connect() blocks while the agent's backlog is full; bound it.
  timeval tv{};
  tv.tv_sec = std::max(timeout_ms, 1) / 1000;
  tv.tv_usec = (std::max(timeout_ms, 1) % 1000) * 1000;
  ::setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int err = connect_unix(sock.get(), addr);
  if (err == ENOENT || err == ECONNREFUSED)
    throw NoAgentError("no wanlb agent runs in this network namespace (no control socket at " + path + ")");
  if (err == EAGAIN || err == EINPROGRESS) throw std::runtime_error(timeout_msg);
  if (err != 0) fail("connect to", path, err);
  int flags = ::fcntl(sock.get(), F_GETFL);
  if (flags < 0 || ::fcntl(sock.get(), F_SETFL, flags | O_NONBLOCK) != 0) fail("set O_NONBLOCK on", path, errno);

  auto wait_for = [&](short events) {
    for (;;) {
      pollfd p{sock.get(), events, 0};
      int rc = ::poll(&p, 1, ms_left(deadline));
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) fail("poll", path, errno);
      if (rc == 0) throw std::runtime_error(timeout_msg);
      return;
    }
  };

  const std::string out = dump_line(request);
  for (size_t sent = 0; sent < out.size();) {
    ssize_t n = ::send(sock.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait_for(POLLOUT);
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET) break;  // it may still have answered (e.g. "permission denied")
    fail("send to", path, errno);
  }

  std::string in;
  size_t nl = std::string::npos;
  char buf[65536];
  while (nl == std::string::npos) {
    ssize_t n = ::recv(sock.get(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      wait_for(POLLIN);
      continue;
    }
    if (n < 0 && errno != ECONNRESET) fail("receive from", path, errno);
    if (n <= 0) throw std::runtime_error("the agent closed the connection without answering");
    size_t old = in.size();
    in.append(buf, static_cast<size_t>(n));
    nl = in.find('\n', old);
    if (nl == std::string::npos && in.size() > kMaxReply) throw std::runtime_error("bad reply from the agent: too long");
  }
  in.resize(nl);
  json reply;
  try {
    reply = json::parse(in);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("bad reply from the agent: ") + e.what());
  }
  if (!reply.is_object() || !reply.contains("ok"))
    throw std::runtime_error("bad reply from the agent: not an object with \"ok\"");
  return reply;
}

}  // namespace wanlb
