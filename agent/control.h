// The control socket: `wanlb status`, `flows`, `reload`, `drain` and
// `undrain` talk to the running agent over a unix socket in /run/wanlb,
// named after the network namespace (like the state file), so a separate
// `ip netns exec NS wanlb ...` finds the agent of NS.
//
// Protocol: one JSON object per line each way. Request {"cmd": "status"},
// {"cmd": "drain", "wan": "isp1"}, ...; reply {"ok": true, "result": ...}
// or {"ok": false, "error": "..."}.
//
// Access: the socket file is 0600 root (0660 with group `control_group`),
// and every peer is checked with SO_PEERCRED as well (uid 0, or that group).
// A unix socket is never reachable from a WAN.
#pragma once

#include <sys/types.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace wanlb {

// "/run/wanlb/netns-<cookie>.sock" (run_dir overridable for tests).
std::string control_socket_path(const std::string& run_dir = "/run/wanlb");

class NoAgentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ControlServer {
 public:
  using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;
  // Listen on `path` (replacing a stale socket file). group == (gid_t)-1:
  // root only. Throws std::runtime_error if it cannot listen.
  ControlServer(const std::string& path, gid_t group, Handler handler);
  ~ControlServer();  // closes and unlinks the socket
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  int fd() const;  // the listening socket, for poll
  // Accept pending clients and serve each one request (bounded: a client
  // that does not send its line within 1 s is dropped). The handler's
  // exceptions become {"ok": false, "error": what()}.
  void on_readable();

 private:
  std::string path_;
  gid_t group_;
  Handler handler_;
  int fd_ = -1;
};

// Send one request to the agent listening on `path` and return its reply.
// Throws NoAgentError ("no wanlb agent runs in this network namespace (no
// control socket at PATH)") when nobody listens, std::runtime_error on
// timeouts or bad replies.
nlohmann::json control_request(const std::string& path, const nlohmann::json& request, int timeout_ms = 5000);

}  // namespace wanlb
