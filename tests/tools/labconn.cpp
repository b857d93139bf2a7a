// wanlb-labconn: TCP traffic generator / checker for the wanlb lab.
//
//   serve  --port P [--port P2 ...] [--bind ADDR]
//       Listen on all addresses (IPv6 socket with IPV6_V6ONLY=0, so IPv4 too;
//       plain IPv4 if IPv6 is unavailable), or on ADDR only with --bind.  Per connection, read one line:
//         WHO    -> "PEER <ip>\n", close   (ip = source address the server sees)
//         STREAM -> "PEER <ip>\n", then 64 KiB writes until the client closes
//       Runs until killed.
//
//   burst  --to A[,A...] --port P --count N [--from A[,A...]] [--parallel K]
//          [--timeout-ms T] [--json] [--pairs-out FILE]
//       N connections; connection j uses source from[j % F] and destination
//       to[(j / F) % T], sends WHO and reads the PEER line.  Prints total/ok/
//       failed and counts by peer (and by source/destination pair).
//
//   stream --to A --port P --seconds S [--from A] [--gap-timeout-ms G] [--json]
//       One STREAM connection for S seconds; reports bytes, the longest gap
//       between reads and whether the connection survived.
//
// Exit codes: 0 ok, 1 failures happened, 2 usage error.

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitFail = 1;
constexpr int kExitUsage = 2;

const char* kUsage =
    "usage: wanlb-labconn COMMAND [options]\n"
    "  serve  --port P [--port P2 ...] [--bind ADDR]\n"
    "         answer WHO (\"PEER <ip>\") and STREAM (PEER line + endless data)\n"
    "  burst  --to ADDR[,ADDR...] --port P --count N [--from ADDR[,ADDR...]]\n"
    "         [--parallel K (32)] [--timeout-ms T (3000)] [--json] [--pairs-out FILE]\n"
    "         N WHO connections; connection j: from[j % F] -> to[(j / F) % T]\n"
    "  stream --to ADDR --port P --seconds S [--from ADDR] [--gap-timeout-ms G (5000)] [--json]\n"
    "         one STREAM connection for S seconds; bytes, longest gap, survival\n"
    "  until-ok --to ADDR --port P [--from ADDR] [--every-ms 10] [--attempt-timeout-ms 3000]\n"
    "           [--max-seconds 20] [--want-peer ADDR] [--json]\n"
    "         start a connection every --every-ms until one completes (through --want-peer)\n"
    "  spoof-echo --dev IF [--seconds S]\n"
    "         answer every IPv4 echo request seen on IF with a forged reply (right id/seq, wrong payload)\n"
    "exit: 0 ok, 1 failures, 2 usage\n";

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "wanlb-labconn: %s\n%s", msg.c_str(), kUsage);
  std::exit(kExitUsage);
}

long long ms_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

// ----------------------------------------------------------------- addresses

struct Addr {
  sockaddr_storage ss{};
  socklen_t len = 0;
  std::string text;
};

bool parse_addr(const std::string& s, uint16_t port, Addr& out) {
  out = Addr{};
  out.text = s;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&out.ss);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&out.ss);
  if (inet_pton(AF_INET, s.c_str(), &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    out.len = sizeof(sockaddr_in);
    return true;
  }
  std::string h = s;
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (inet_pton(AF_INET6, h.c_str(), &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    out.len = sizeof(sockaddr_in6);
    out.text = h;
    return true;
  }
  return false;
}

// Numeric text of a peer address; IPv4-mapped IPv6 is shown as plain IPv4.
std::string addr_text(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    }
  } else {
    return "?";
  }
  return buf;
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

long parse_num(const std::string& opt, const std::string& v, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  long n = std::strtol(v.c_str(), &end, 10);
  if (errno != 0 || end == v.c_str() || *end != '\0' || n < lo || n > hi)
    usage_error(opt + " wants a number in " + std::to_string(lo) + ".." + std::to_string(hi) +
                ", got '" + v + "'");
  return n;
}

// --------------------------------------------------------------- socket I/O

std::string errtext(int e) { return e == 0 ? std::string() : std::string(std::strerror(e)); }

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// Non-blocking connect with a deadline.  Returns fd or -1 with err set.
int connect_to(const Addr* from, const Addr& to, Clock::time_point deadline, std::string& err) {
  int fd = socket(to.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = "socket: " + errtext(errno);
    return -1;
  }
  if (from) {
    if (from->ss.ss_family != to.ss.ss_family) {
      err = "address family mismatch " + from->text + " -> " + to.text;
      close(fd);
      return -1;
    }
    int one = 1;
    // Let connect() pick the port from the full 4-tuple: many connections
    // from one source address do not exhaust the ephemeral range.
#ifdef IP_BIND_ADDRESS_NO_PORT
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
#endif
    (void)one;
    Addr src = *from;
    if (src.ss.ss_family == AF_INET)
      reinterpret_cast<sockaddr_in*>(&src.ss)->sin_port = 0;
    else
      reinterpret_cast<sockaddr_in6*>(&src.ss)->sin6_port = 0;
    if (bind(fd, reinterpret_cast<const sockaddr*>(&src.ss), src.len) < 0) {
      err = "bind " + from->text + ": " + errtext(errno);
      close(fd);
      return -1;
    }
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to.ss), to.len) < 0) {
    if (errno != EINPROGRESS) {
      err = "connect: " + errtext(errno);
      close(fd);
      return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    int r;
    do {
      r = poll(&p, 1, remaining_ms(deadline));
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
      err = "connect: timeout";
      close(fd);
      return -1;
    }
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (r < 0 || soerr != 0) {
      err = "connect: " + errtext(r < 0 ? errno : soerr);
      close(fd);
      return -1;
    }
  }
  return fd;
}

bool send_all(int fd, const char* data, size_t len, Clock::time_point deadline, std::string& err) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = send(fd, data + off, len - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      int r = poll(&p, 1, remaining_ms(deadline));
      if (r == 0) {
        err = "send: timeout";
        return false;
      }
      continue;
    }
    err = "send: " + errtext(errno);
    return false;
  }
  return true;
}

// Read up to and including '\n' (at most 256 bytes).  Anything received after
// the newline is returned in `extra`.
bool read_line(int fd, Clock::time_point deadline, std::string& line, std::string& extra,
               std::string& err) {
  line.clear();
  extra.clear();
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      line.append(buf, static_cast<size_t>(n));
      size_t nl = line.find('\n');
      if (nl != std::string::npos) {
        extra = line.substr(nl + 1);
        line.resize(nl);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return true;
      }
      if (line.size() > 256) {
        err = "line too long";
        return false;
      }
      continue;
    }
    if (n == 0) {
      err = line.empty() ? "EOF before reply" : "EOF in reply line";
      return false;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      err = "recv: " + errtext(errno);
      return false;
    }
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, remaining_ms(deadline));
    if (r == 0) {
      err = "recv: timeout";
      return false;
    }
  }
}

// ------------------------------------------------------------------- serve

void serve_conn(int fd) {
  sockaddr_storage peer{};
  socklen_t pl = sizeof peer;
  std::string peer_text = "?";
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl) == 0) peer_text = addr_text(peer);

  // Non-blocking while reading the request line (bounded by a deadline).
  int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);

  std::string line, extra, err;
  auto deadline = Clock::now() + std::chrono::seconds(10);
  if (!read_line(fd, deadline, line, extra, err)) {
    close(fd);
    return;
  }
  std::string reply = "PEER " + peer_text + "\n";
  if (line == "WHO") {
    send_all(fd, reply.data(), reply.size(), Clock::now() + std::chrono::seconds(10), err);
  } else if (line == "STREAM") {
    fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);  // blocking writes from here on
    timeval stv{30, 0};                        // give up on a peer that vanished
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &stv, sizeof stv);
    bool ok = send(fd, reply.data(), reply.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(reply.size());
    std::vector<char> chunk(64 * 1024, 'x');
    while (ok) {
      size_t off = 0;
      while (off < chunk.size()) {
        ssize_t n = send(fd, chunk.data() + off, chunk.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
          off += static_cast<size_t>(n);
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else {
          ok = false;  // client closed (EPIPE/ECONNRESET) or stalled 30 s
          break;
        }
      }
    }
  } else {
    std::string e = "ERR unknown request\n";
    send_all(fd, e.data(), e.size(), Clock::now() + std::chrono::seconds(2), err);
  }
  close(fd);
}

int open_listener(uint16_t port, const std::string& bind_addr) {
  int one = 1, zero = 0;
  if (!bind_addr.empty()) {
    Addr a;
    if (!parse_addr(bind_addr, port, a)) usage_error("serve: bad --bind address '" + bind_addr + "'");
    int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (a.ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) == 0 && listen(fd, 4096) == 0) return fd;
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_any;
    a.sin6_port = htons(port);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(fd, 4096) == 0) return fd;
    close(fd);
  }
  // No IPv6 in this namespace: IPv4 only.
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  a.sin_port = htons(port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(fd, 4096) == 0) return fd;
  int e = errno;
  close(fd);
  errno = e;
  return -1;
}

int cmd_serve(const std::vector<std::string>& args) {
  std::vector<uint16_t> ports;
  std::string bind_addr;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--port" && i + 1 < args.size()) {
      ports.push_back(static_cast<uint16_t>(parse_num("--port", args[++i], 1, 65535)));
    } else if (args[i] == "--bind" && i + 1 < args.size()) {
      bind_addr = args[++i];
    } else {
      usage_error("serve: unexpected argument '" + args[i] + "'");
    }
  }
  if (ports.empty()) usage_error("serve: at least one --port is required");

  std::vector<pollfd> pfds;
  for (uint16_t p : ports) {
    int fd = open_listener(p, bind_addr);
    if (fd < 0) {
      std::fprintf(stderr, "wanlb-labconn: cannot listen on %s port %u: %s\n",
                   bind_addr.empty() ? "*" : bind_addr.c_str(), p, std::strerror(errno));
      return kExitFail;
    }
    pfds.push_back(pollfd{fd, POLLIN, 0});
    std::fprintf(stderr, "wanlb-labconn: listening on %s port %u\n", bind_addr.empty() ? "*" : bind_addr.c_str(), p);
  }
  std::fflush(stderr);
  for (;;) {
    int r = poll(pfds.data(), pfds.size(), -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      std::perror("poll");
      return kExitFail;
    }
    for (auto& p : pfds) {
      if (!(p.revents & POLLIN)) continue;
      int c = accept4(p.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        if (errno == EMFILE || errno == ENFILE) usleep(10000);
        continue;
      }
      try {
        std::thread(serve_conn, c).detach();
      } catch (...) {
        close(c);  // out of threads: drop this one, keep serving
      }
    }
  }
}

// ------------------------------------------------------------------- burst

struct ConnResult {
  std::string src, dst, peer, error;
  bool ok = false;
};

int cmd_burst(const std::vector<std::string>& args) {
  std::vector<std::string> to_s, from_s;
  long port = -1, count = -1, parallel = 32, timeout_ms = 3000;
  bool json = false;
  std::string pairs_out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto val = [&]() -> const std::string& {
      if (i + 1 >= args.size()) usage_error(a + " needs a value");
      return args[++i];
    };
    if (a == "--to") {
      auto v = split_list(val());
      to_s.insert(to_s.end(), v.begin(), v.end());
    } else if (a == "--from") {
      auto v = split_list(val());
      from_s.insert(from_s.end(), v.begin(), v.end());
    } else if (a == "--port") {
      port = parse_num(a, val(), 1, 65535);
    } else if (a == "--count") {
      count = parse_num(a, val(), 1, 10000000);
    } else if (a == "--parallel") {
      parallel = parse_num(a, val(), 1, 4096);
    } else if (a == "--timeout-ms") {
      timeout_ms = parse_num(a, val(), 1, 3600000);
    } else if (a == "--json") {
      json = true;
    } else if (a == "--pairs-out") {
      pairs_out = val();
    } else {
      usage_error("burst: unexpected argument '" + a + "'");
    }
  }
  if (to_s.empty() || port < 0 || count < 0) usage_error("burst: --to, --port and --count are required");

  std::vector<Addr> to(to_s.size()), from(from_s.size());
  for (size_t i = 0; i < to_s.size(); ++i)
    if (!parse_addr(to_s[i], static_cast<uint16_t>(port), to[i])) usage_error("bad address '" + to_s[i] + "'");
  for (size_t i = 0; i < from_s.size(); ++i)
    if (!parse_addr(from_s[i], 0, from[i])) usage_error("bad address '" + from_s[i] + "'");

  const size_t F = from.empty() ? 1 : from.size();
  const size_t T = to.size();
  const size_t N = static_cast<size_t>(count);
  const size_t K = std::min(static_cast<size_t>(parallel), N);
  auto start = Clock::now();
  auto overall = start + std::chrono::milliseconds(static_cast<long long>(count) * timeout_ms / parallel + 10000);

  std::vector<ConnResult> results(N);
  std::atomic<size_t> next{0};
  auto worker = [&]() {
    char req[] = "WHO\n";
    for (;;) {
      size_t j = next.fetch_add(1);
      if (j >= N) return;
      ConnResult& r = results[j];
      const Addr* src = from.empty() ? nullptr : &from[j % F];
      const Addr& dst = to[(j / F) % T];
      r.src = src ? src->text : "-";
      r.dst = dst.text;
      auto now = Clock::now();
      if (now >= overall) {
        r.error = "overall deadline";
        continue;
      }
      auto deadline = std::min(overall, now + std::chrono::milliseconds(timeout_ms));
      std::string err, line, extra;
      int fd = connect_to(src, dst, deadline, err);
      if (fd >= 0) {
        if (src == nullptr) {  // report the source the kernel picked
          sockaddr_storage ss{};
          socklen_t sl = sizeof ss;
          if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &sl) == 0) r.src = addr_text(ss);
        }
        if (send_all(fd, req, sizeof req - 1, deadline, err) && read_line(fd, deadline, line, extra, err)) {
          if (line.compare(0, 5, "PEER ") == 0 && line.size() > 5) {
            r.peer = line.substr(5);
            r.ok = true;
          } else {
            err = "bad reply '" + line + "'";
          }
        }
        close(fd);
      }
      if (!r.ok) r.error = err;
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(K);
  for (size_t i = 0; i < K; ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  long long elapsed = ms_since(start);

  size_t ok = 0;
  std::map<std::string, size_t> by_peer, by_error;
  struct PairStat {
    size_t ok = 0, failed = 0;
    std::map<std::string, size_t> peers;
  };
  std::map<std::pair<std::string, std::string>, PairStat> by_pair;
  for (const auto& r : results) {
    PairStat& ps = by_pair[{r.src, r.dst}];
    if (r.ok) {
      ++ok;
      ++by_peer[r.peer];
      ++ps.ok;
      ++ps.peers[r.peer];
    } else {
      ++by_error[r.error];
      ++ps.failed;
    }
  }
  size_t consistent = 0, inconsistent = 0;
  for (const auto& kv : by_pair) {
    if (kv.second.peers.size() == 1) ++consistent;
    if (kv.second.peers.size() > 1) ++inconsistent;
  }
  const size_t failed = N - ok;

  if (!pairs_out.empty()) {
    FILE* f = std::fopen(pairs_out.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "wanlb-labconn: cannot write %s: %s\n", pairs_out.c_str(), std::strerror(errno));
      return kExitFail;
    }
    for (const auto& r : results)
      std::fprintf(f, "%s %s %s\n", r.src.c_str(), r.dst.c_str(), r.ok ? r.peer.c_str() : "FAIL");
    std::fclose(f);
  }

  if (json) {
    std::string o = "{\"total\":" + std::to_string(N) + ",\"ok\":" + std::to_string(ok) +
                    ",\"failed\":" + std::to_string(failed) + ",\"elapsed_ms\":" + std::to_string(elapsed) +
                    ",\"by_peer\":{";
    bool first = true;
    for (const auto& kv : by_peer) {
      o += (first ? "\"" : ",\"") + json_escape(kv.first) + "\":" + std::to_string(kv.second);
      first = false;
    }
    o += "},\"errors\":{";
    first = true;
    for (const auto& kv : by_error) {
      o += (first ? "\"" : ",\"") + json_escape(kv.first) + "\":" + std::to_string(kv.second);
      first = false;
    }
    o += "},\"pairs\":" + std::to_string(by_pair.size()) +
         ",\"pairs_consistent\":" + std::to_string(consistent) +
         ",\"pairs_inconsistent\":" + std::to_string(inconsistent) + ",\"by_pair\":[";
    first = true;
    for (const auto& kv : by_pair) {
      o += first ? "{" : ",{";
      first = false;
      o += "\"src\":\"" + json_escape(kv.first.first) + "\",\"dst\":\"" + json_escape(kv.first.second) +
           "\",\"ok\":" + std::to_string(kv.second.ok) + ",\"failed\":" + std::to_string(kv.second.failed) +
           ",\"peers\":{";
      bool f2 = true;
      for (const auto& pk : kv.second.peers) {
        o += (f2 ? "\"" : ",\"") + json_escape(pk.first) + "\":" + std::to_string(pk.second);
        f2 = false;
      }
      o += "}}";
    }
    o += "]}";
    std::printf("%s\n", o.c_str());
  } else {
    std::printf("total %zu ok %zu failed %zu elapsed_ms %lld\n", N, ok, failed, elapsed);
    for (const auto& kv : by_peer) std::printf("peer %s %zu\n", kv.first.c_str(), kv.second);
    for (const auto& kv : by_error) std::printf("error %s: %zu\n", kv.first.c_str(), kv.second);
    std::printf("pairs %zu consistent %zu inconsistent %zu\n", by_pair.size(), consistent, inconsistent);
  }
  return failed == 0 ? kExitOk : kExitFail;
}

// ------------------------------------------------------------------ stream

int cmd_stream(const std::vector<std::string>& args) {
  std::string to_s, from_s;
  long port = -1, seconds = -1, gap_timeout_ms = 5000;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto val = [&]() -> const std::string& {
      if (i + 1 >= args.size()) usage_error(a + " needs a value");
      return args[++i];
    };
    if (a == "--to") {
      to_s = val();
    } else if (a == "--from") {
      from_s = val();
    } else if (a == "--port") {
      port = parse_num(a, val(), 1, 65535);
    } else if (a == "--seconds") {
      seconds = parse_num(a, val(), 1, 86400);
    } else if (a == "--gap-timeout-ms") {
      gap_timeout_ms = parse_num(a, val(), 1, 3600000);
    } else if (a == "--json") {
      json = true;
    } else {
      usage_error("stream: unexpected argument '" + a + "'");
    }
  }
  if (to_s.empty() || port < 0 || seconds < 0) usage_error("stream: --to, --port and --seconds are required");
  Addr to, from;
  if (!parse_addr(to_s, static_cast<uint16_t>(port), to)) usage_error("bad address '" + to_s + "'");
  if (!from_s.empty() && !parse_addr(from_s, 0, from)) usage_error("bad address '" + from_s + "'");

  std::string peer, err, line, extra;
  unsigned long long bytes = 0;
  long long max_gap = 0;
  bool ok = false;
  auto start = Clock::now();
  auto setup_deadline = start + std::chrono::milliseconds(gap_timeout_ms);
  int fd = connect_to(from_s.empty() ? nullptr : &from, to, setup_deadline, err);
  auto end = start + std::chrono::seconds(seconds);
  if (fd >= 0) {
    if (send_all(fd, "STREAM\n", 7, setup_deadline, err) && read_line(fd, setup_deadline, line, extra, err)) {
      if (line.compare(0, 5, "PEER ") == 0 && line.size() > 5) {
        peer = line.substr(5);
        bytes = extra.size();
        end = Clock::now() + std::chrono::seconds(seconds);
        auto last = Clock::now();
        std::vector<char> buf(256 * 1024);
        for (;;) {
          auto now = Clock::now();
          if (now >= end) {
            max_gap = std::max<long long>(max_gap, std::chrono::duration_cast<std::chrono::milliseconds>(now - last).count());
            ok = true;
            break;
          }
          int wait = std::min(remaining_ms(end), static_cast<int>(gap_timeout_ms));
          pollfd p{fd, POLLIN, 0};
          int r = poll(&p, 1, std::max(wait, 1));
          if (r < 0) {
            if (errno == EINTR) continue;
            err = "poll: " + errtext(errno);
            break;
          }
          now = Clock::now();
          long long gap = std::chrono::duration_cast<std::chrono::milliseconds>(now - last).count();
          if (r == 0) {
            if (now >= end) continue;  // loop top finishes
            if (gap >= gap_timeout_ms) {
              max_gap = std::max(max_gap, gap);
              err = "timeout: no data for " + std::to_string(gap) + " ms";
              break;
            }
            continue;
          }
          ssize_t n = recv(fd, buf.data(), buf.size(), 0);
          if (n > 0) {
            max_gap = std::max(max_gap, gap);
            last = now;
            bytes += static_cast<unsigned long long>(n);
          } else if (n == 0) {
            max_gap = std::max(max_gap, gap);
            err = "EOF before end of stream";
            break;
          } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
            max_gap = std::max(max_gap, gap);
            err = errtext(errno);
            break;
          }
        }
      } else {
        err = "bad reply '" + line + "'";
      }
    }
    close(fd);
  }
  long long elapsed = ms_since(start);
  double mbit = elapsed > 0 ? static_cast<double>(bytes) * 8.0 / (static_cast<double>(elapsed) * 1000.0) : 0.0;
  if (json) {
    std::printf(
        "{\"peer\":\"%s\",\"bytes\":%llu,\"max_gap_ms\":%lld,\"elapsed_ms\":%lld,\"mbit_per_s\":%.2f,"
        "\"error\":\"%s\",\"ok\":%s}\n",
        json_escape(peer).c_str(), bytes, max_gap, elapsed, mbit, json_escape(err).c_str(), ok ? "true" : "false");
  } else {
    std::printf("peer %s bytes %llu max_gap_ms %lld elapsed_ms %lld mbit_per_s %.2f ok %s%s%s\n",
                peer.empty() ? "-" : peer.c_str(), bytes, max_gap, elapsed, mbit, ok ? "true" : "false",
                err.empty() ? "" : " error ", err.c_str());
  }
  return ok ? kExitOk : kExitFail;
}

// ---------------------------------------------------------------- until-ok

// Start a new connection every --every-ms without waiting for earlier ones,
// and report the first that completes (connect + PEER line): the failover
// benchmark's "first new connection that succeeds" with ~every-ms resolution.
int cmd_until_ok(const std::vector<std::string>& args) {
  std::string to_s, from_s, want_peer;
  long port = -1, every_ms = 10, attempt_ms = 3000, max_s = 20;
  bool json = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto val = [&]() -> const std::string& {
      if (i + 1 >= args.size()) usage_error(a + " needs a value");
      return args[++i];
    };
    if (a == "--to") to_s = val();
    else if (a == "--from") from_s = val();
    else if (a == "--port") port = parse_num(a, val(), 1, 65535);
    else if (a == "--every-ms") every_ms = parse_num(a, val(), 1, 10000);
    else if (a == "--attempt-timeout-ms") attempt_ms = parse_num(a, val(), 1, 60000);
    else if (a == "--max-seconds") max_s = parse_num(a, val(), 1, 3600);
    else if (a == "--want-peer") want_peer = val();
    else if (a == "--json") json = true;
    else usage_error("until-ok: unexpected argument '" + a + "'");
  }
  if (to_s.empty() || port < 0) usage_error("until-ok: --to and --port are required");
  Addr to, from;
  if (!parse_addr(to_s, static_cast<uint16_t>(port), to)) usage_error("bad address '" + to_s + "'");
  if (!from_s.empty() && !parse_addr(from_s, 0, from)) usage_error("bad address '" + from_s + "'");

  struct Attempt {
    int fd;
    Clock::time_point started;
    bool connected;
    std::string buf;
  };
  std::vector<Attempt> inflight;
  auto start = Clock::now();
  auto deadline = start + std::chrono::seconds(max_s);
  auto next = start;
  long attempts = 0;
  std::string peer;
  bool ok = false;
  while (!ok && Clock::now() < deadline) {
    if (Clock::now() >= next) {
      int fd = socket(to.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd >= 0 && !from_s.empty()) bind(fd, reinterpret_cast<const sockaddr*>(&from.ss), from.len);
      if (fd >= 0) {
        connect(fd, reinterpret_cast<const sockaddr*>(&to.ss), to.len);
        inflight.push_back({fd, Clock::now(), false, {}});
        attempts++;
      }
      next += std::chrono::milliseconds(every_ms);
    }
    std::vector<pollfd> pfds;
    for (const auto& at : inflight) pfds.push_back({at.fd, static_cast<short>(at.connected ? POLLIN : POLLOUT), 0});
    poll(pfds.data(), pfds.size(), std::max(1, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                   next - Clock::now()).count())));
    for (size_t i = 0; i < inflight.size() && !ok; i++) {
      Attempt& at = inflight[i];
      if (!at.connected && (pfds[i].revents & (POLLOUT | POLLERR | POLLHUP))) {
        int soerr = 0;
        socklen_t l = sizeof(soerr);
        getsockopt(at.fd, SOL_SOCKET, SO_ERROR, &soerr, &l);
        if (soerr == 0 && send(at.fd, "WHO\n", 4, MSG_NOSIGNAL) == 4) at.connected = true;
        else at.started = Clock::time_point{};  // failed: drop below
      } else if (at.connected && (pfds[i].revents & POLLIN)) {
        char b[256];
        ssize_t n = recv(at.fd, b, sizeof b, 0);
        if (n > 0) at.buf.append(b, static_cast<size_t>(n));
        size_t nl = at.buf.find('\n');
        if (nl != std::string::npos && at.buf.compare(0, 5, "PEER ") == 0) {
          std::string p = at.buf.substr(5, nl - 5);
          if (want_peer.empty() || p == want_peer) {
            peer = p;
            ok = true;
          }
          at.started = Clock::time_point{};
        } else if (n <= 0) {
          at.started = Clock::time_point{};
        }
      }
    }
    // Close failed, finished and timed-out attempts.
    auto now = Clock::now();
    for (size_t i = 0; i < inflight.size();) {
      Attempt& at = inflight[i];
      if (at.started == Clock::time_point{} || now - at.started > std::chrono::milliseconds(attempt_ms)) {
        close(at.fd);
        inflight.erase(inflight.begin() + static_cast<long>(i));
      } else {
        i++;
      }
    }
  }
  for (auto& at : inflight) close(at.fd);
  long long elapsed = ms_since(start);
  long long wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  if (json)
    std::printf("{\"ok\":%s,\"peer\":\"%s\",\"elapsed_ms\":%lld,\"done_unix_ms\":%lld,\"attempts\":%ld}\n",
                ok ? "true" : "false", json_escape(peer).c_str(), elapsed, wall_ms, attempts);
  else
    std::printf("ok %s peer %s elapsed_ms %lld done_unix_ms %lld attempts %ld\n", ok ? "true" : "false",
                peer.empty() ? "-" : peer.c_str(), elapsed, wall_ms, attempts);
  return ok ? kExitOk : kExitFail;
}

// -------------------------------------------------------------- spoof-echo

uint16_t inet_csum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// An attacker on the WAN side: sniff IPv4 echo requests on --dev (AF_PACKET
// sees them even where the firewall drops them) and answer each with the
// right identifier and sequence but a payload that is not the prober's
// (every byte flipped). wanlb must ignore such replies.
int cmd_spoof_echo(const std::vector<std::string>& args) {
  std::string dev;
  long seconds = 10;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto val = [&]() -> const std::string& {
      if (i + 1 >= args.size()) usage_error(a + " needs a value");
      return args[++i];
    };
    if (a == "--dev") dev = val();
    else if (a == "--seconds") seconds = parse_num(a, val(), 1, 3600);
    else usage_error("spoof-echo: unexpected argument '" + a + "'");
  }
  if (dev.empty()) usage_error("spoof-echo: --dev is required");
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_IP));
  if (fd < 0) { std::perror("socket(AF_PACKET)"); return kExitFail; }
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_IP);
  sll.sll_ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
  if (sll.sll_ifindex == 0 || bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) != 0) {
    std::perror(("bind " + dev).c_str());
    return kExitFail;
  }
  auto end = Clock::now() + std::chrono::seconds(seconds);
  long sent = 0;
  uint8_t buf[2048];
  while (Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    sockaddr_ll from{};
    socklen_t fl = sizeof(from);
    ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &fl);
    if (n < 14 + 20 + 8 || from.sll_pkttype == PACKET_OUTGOING) continue;
    uint8_t* ip = buf + 14;
    size_t ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
    if (ip[9] != IPPROTO_ICMP || ihl < 20 || static_cast<size_t>(n) < 14 + ihl + 8 || ip[ihl] != 8) continue;
    uint8_t* icmp = ip + ihl;
    size_t icmp_len = static_cast<size_t>(n) - 14 - ihl;
    // Reply: swap MACs and IPs, type 0, same id/seq, payload bytes flipped.
    uint8_t mac[6];
    std::memcpy(mac, buf, 6); std::memcpy(buf, buf + 6, 6); std::memcpy(buf + 6, mac, 6);
    uint8_t addr[4];
    std::memcpy(addr, ip + 12, 4); std::memcpy(ip + 12, ip + 16, 4); std::memcpy(ip + 16, addr, 4);
    ip[8] = 64;
    ip[10] = ip[11] = 0;
    uint16_t c = inet_csum(ip, ihl);
    ip[10] = static_cast<uint8_t>(c >> 8); ip[11] = static_cast<uint8_t>(c);
    icmp[0] = 0;
    for (size_t i = 8; i < icmp_len; i++) icmp[i] ^= 0xff;
    icmp[2] = icmp[3] = 0;
    c = inet_csum(icmp, icmp_len);
    icmp[2] = static_cast<uint8_t>(c >> 8); icmp[3] = static_cast<uint8_t>(c);
    if (sendto(fd, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&sll), sizeof(sll)) == n) sent++;
  }
  close(fd);
  std::printf("{\"spoofed_replies\":%ld}\n", sent);
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  setvbuf(stdout, nullptr, _IOLBF, 0);
  if (argc < 2) usage_error("missing command");
  std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (cmd == "serve") return cmd_serve(args);
  if (cmd == "burst") return cmd_burst(args);
  if (cmd == "stream") return cmd_stream(args);
  if (cmd == "until-ok") return cmd_until_ok(args);
  if (cmd == "spoof-echo") return cmd_spoof_echo(args);
  usage_error("unknown command '" + cmd + "'");
}
