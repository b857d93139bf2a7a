// Prometheus metrics: a text endpoint (off by default; `metrics:
// 127.0.0.1:9469` in the config) served by cpp-httplib on its own thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace wanlb {

// Counters only the agent knows (the rest comes from the maps).
struct AgentCounters {
  uint64_t state_changes_total = 0;     // every WAN state change since start
  uint64_t last_change_unix_ms = 0;
  uint64_t reloads_total = 0;
  uint64_t reload_failures_total = 0;
  uint64_t probe_replies_ignored_total = 0;  // stray or forged echo replies
};

// Prometheus text exposition (format 0.0.4) from a `wanlb status --json`
// object plus the agent's own counters. Names: wanlb_..._total for counters,
// base units (seconds, bytes, ratios 0..1), labels wan="isp1",
// interface="eth1", reason="unparsable", policy="voip". Includes
// wanlb_build_info{version="..."} 1.
std::string render_metrics(const nlohmann::json& status, const AgentCounters& counters);

class MetricsServer {
 public:
  // Serve GET /metrics on `listen` ("127.0.0.1:9469", "[::1]:9469") with
  // the text `render()` returns (called on the server thread for every
  // scrape: it must be thread-safe). Throws std::runtime_error naming the
  // address if it cannot bind.
  MetricsServer(const std::string& listen, std::function<std::string()> render);
  ~MetricsServer();  // stops the thread
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Split "host:port" / "[v6]:port"; false (with *why) if malformed.
bool parse_listen_address(const std::string& text, std::string* host, int* port, std::string* why);

}  // namespace wanlb
