// Prometheus metrics: see metrics.h for the contract and docs/config.md
// ("Metrics") for the user-facing list of every metric.
//
// render_metrics() is a pure function of a `wanlb status --json` object and
// the agent's own counters, so it is unit-tested without a data path, and
// the server thread can call it for every scrape. It is tolerant of missing
// or mistyped keys (a metric then reads 0): a scrape must never fail
// because the status object gained or lost a field.
#include "metrics.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#ifndef WANLB_VERSION
#define WANLB_VERSION "unknown"
#endif

namespace wanlb {

namespace {

using nlohmann::json;

// ------------------------------------------------------------ formatting

// Label values: backslash, double quote and line feed are escaped.
std::string escape_label(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fmt_u64(uint64_t v) { return std::to_string(v); }

// Shortest text that reads back as the same double; Prometheus spellings
// for the non-finite values.
std::string fmt_double(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  if (res.ec != std::errc()) return "NaN";
  return std::string(buf, res.ptr);
}

using Labels = std::vector<std::pair<std::string, std::string>>;

std::string label_text(const Labels& labels) {
  if (labels.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < labels.size(); i++) {
    if (i) out += ",";
    out += labels[i].first + "=\"" + escape_label(labels[i].second) + "\"";
  }
  return out + "}";
}

// One metric family: its # HELP and # TYPE lines once, then its samples
// (the text format wants a family's samples together).
class Family {
 public:
  Family(std::string name, const char* type, std::string help)
      : name_(std::move(name)), type_(type), help_(std::move(help)) {}
  void add(const Labels& labels, const std::string& value) {
    samples_ += name_ + label_text(labels) + " " + value + "\n";
  }
  void add_u64(const Labels& labels, uint64_t v) { add(labels, fmt_u64(v)); }
  void add_double(const Labels& labels, double v) { add(labels, fmt_double(v)); }
  void render(std::string* out) const {
    std::string help;
    for (char c : help_) {  // HELP text escapes backslash and line feed
      if (c == '\\') help += "\\\\";
      else if (c == '\n') help += "\\n";
      else help += c;
    }
    *out += "# HELP " + name_ + " " + help + "\n";
    *out += "# TYPE " + name_ + " " + type_ + "\n";
    *out += samples_;
  }

 private:
  std::string name_;
  const char* type_;
  std::string help_;
  std::string samples_;
};

// ------------------------------------------------------ reading the status

const json& member(const json& o, const char* key) {
  static const json null_json;
  if (!o.is_object()) return null_json;
  auto it = o.find(key);
  return it == o.end() ? null_json : *it;
}

uint64_t as_u64(const json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) {
    int64_t i = v.get<int64_t>();
    return i < 0 ? 0 : static_cast<uint64_t>(i);
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    return d > 0 && d < 1.8e19 ? static_cast<uint64_t>(d) : 0;
  }
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  return 0;
}

double as_double(const json& v) {
  if (v.is_number()) return v.get<double>();
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  return 0;
}

std::string as_string(const json& v) { return v.is_string() ? v.get<std::string>() : ""; }

uint64_t u64(const json& o, const char* key) { return as_u64(member(o, key)); }
double dbl(const json& o, const char* key) { return as_double(member(o, key)); }
std::string str(const json& o, const char* key) { return as_string(member(o, key)); }

// A quantity the status gives in a decimal unit of something that is an
// integer underneath (rtt_ms = rtt_us / 1000, loss_percent = ppm / 10000):
// back to that integer, then one division into the base unit, so that
// 12.3 ms reads "0.0123", not "0.012300000000000002".
double rescale(double value, double to_integer, double to_base) {
  if (!std::isfinite(value)) return value;
  return std::round(value * to_integer) / to_base;
}

double ms_to_seconds(uint64_t ms) { return static_cast<double>(ms) / 1000.0; }

const char* const kStates[] = {"up", "down", "degraded", "probing"};
// status "counters" keys of packets that pass the data path unbalanced.
const char* const kUnbalancedReasons[] = {"bypassed", "unparsable", "no_wan", "non_ip"};

}  // namespace

// ------------------------------------------------------------- rendering

std::string render_metrics(const json& status, const AgentCounters& counters) {
  std::vector<const json*> wans;
  for (const json& w : member(status, "wans"))
    if (w.is_object()) wans.push_back(&w);
  auto per_wan = [&](const std::function<void(const json&, const Labels&)>& add) {
    for (const json* w : wans) add(*w, Labels{{"wan", str(*w, "name")}});
  };

  std::vector<Family> families;
  auto family = [&](const char* name, const char* type, const char* help) -> Family& {
    families.emplace_back(name, type, help);
    return families.back();
  };

  family("wanlb_build_info", "gauge", "Always 1; the version label is the wanlb agent's version.")
      .add({{"version", WANLB_VERSION}}, "1");

  // ---- per WAN: configuration and health
  {
    Family& f = family("wanlb_wan_up", "gauge", "1 if the WAN's health state is up, else 0.");
    for (const json* w : wans)
      f.add_u64({{"wan", str(*w, "name")}, {"interface", str(*w, "interface")}}, str(*w, "state") == "up");
  }
  {
    Family& f = family("wanlb_wan_state", "gauge",
                       "Health state of the WAN: 1 for the current state (up, down, degraded, probing), 0 for the others.");
    for (const json* w : wans) {
      const std::string state = str(*w, "state");
      for (const char* s : kStates) f.add_u64({{"wan", str(*w, "name")}, {"state", s}}, state == s);
    }
  }
  {
    Family& f = family("wanlb_wan_live", "gauge",
                       "1 if the data path may send connections through the WAN (up, or degraded while no WAN is up).");
    per_wan([&](const json& w, const Labels& l) { f.add_u64(l, u64(w, "carries_flows")); });
  }
  {
    Family& f = family("wanlb_wan_weight", "gauge", "Configured weight of the WAN (1..1000).");
    per_wan([&](const json& w, const Labels& l) { f.add_u64(l, u64(w, "weight")); });
  }
  {
    Family& f = family("wanlb_wan_tier", "gauge", "Configured tier of the WAN (1..16; the lowest tier with a live WAN is used).");
    per_wan([&](const json& w, const Labels& l) { f.add_u64(l, u64(w, "tier")); });
  }
  {
    Family& f = family("wanlb_wan_configured_share_ratio", "gauge",
                       "The WAN's weight divided by the sum of all weights (0..1).");
    per_wan([&](const json& w, const Labels& l) { f.add_double(l, dbl(w, "configured_share")); });
  }
  {
    Family& f = family("wanlb_wan_slot_share_ratio", "gauge",
                       "Share of the slot table, i.e. of new balanced connections, that goes to the WAN now (0..1).");
    per_wan([&](const json& w, const Labels& l) { f.add_double(l, dbl(w, "slot_share")); });
  }
  {
    Family& f = family("wanlb_wan_rtt_seconds", "gauge", "Probe round-trip time of the WAN, in seconds (0 if unknown).");
    per_wan([&](const json& w, const Labels& l) { f.add_double(l, rescale(dbl(w, "rtt_ms"), 1e3, 1e6)); });
  }
  {
    Family& f = family("wanlb_wan_probe_loss_ratio", "gauge",
                       "Share of probes lost over the WAN's quality window (0..1).");
    per_wan([&](const json& w, const Labels& l) {
      double ratio = rescale(dbl(w, "loss_percent"), 1e4, 1e6);
      if (ratio < 0) ratio = 0;
      if (ratio > 1) ratio = 1;
      f.add_double(l, ratio);
    });
  }
  {
    Family& f = family("wanlb_wan_last_change_timestamp_seconds", "gauge",
                       "Unix time of the WAN's last state change, in seconds (0 if unknown).");
    per_wan([&](const json& w, const Labels& l) { f.add_double(l, ms_to_seconds(u64(w, "since_unix_ms"))); });
  }

  // ---- per WAN: traffic
  {
    Family& f = family("wanlb_wan_flows", "gauge", "Entries of the flow table that point at the WAN.");
    per_wan([&](const json& w, const Labels& l) { f.add_u64(l, u64(w, "flows")); });
  }
  {
    Family& f = family("wanlb_wan_active_flows", "gauge",
                       "Flow table entries of the WAN that saw a packet in the last minute.");
    per_wan([&](const json& w, const Labels& l) { f.add_u64(l, u64(w, "active_flows")); });
  }
  {
    Family& f = family("wanlb_wan_packets_total", "counter", "LAN packets the data path sent to the WAN.");
    per_wan([&](const json& w, const Labels& l) { f.add_u64(l, u64(w, "packets")); });
  }
  {
    Family& f = family("wanlb_wan_bytes_total", "counter", "Bytes of the LAN packets the data path sent to the WAN.");
    per_wan([&](const json& w, const Labels& l) { f.add_u64(l, u64(w, "bytes")); });
  }
  {
    Family& f = family("wanlb_wan_new_flows_total", "counter", "New connections the data path assigned to the WAN.");
    per_wan([&](const json& w, const Labels& l) { f.add_u64(l, u64(w, "new_flows")); });
  }

  // ---- global
  family("wanlb_all_wans_down", "gauge",
         "1 if no WAN takes new connections (they are not balanced and follow the main table), else 0.")
      .add_u64({}, u64(status, "all_down"));
  family("wanlb_flow_entries", "gauge", "Entries in the data path's flow table.").add_u64({}, u64(status, "flow_entries"));
  family("wanlb_state_changes_total", "counter", "WAN state changes since the agent started.")
      .add_u64({}, counters.state_changes_total);
  family("wanlb_last_state_change_timestamp_seconds", "gauge",
         "Unix time of the last WAN state change, in seconds (0 if none since the agent started).")
      .add_double({}, ms_to_seconds(counters.last_change_unix_ms));

  const json& cnt = member(status, "counters");
  {
    Family& f = family("wanlb_unbalanced_packets_total", "counter",
                       "Packets the data path passed unbalanced (unmarked, following the main table), by reason: "
                       "bypassed (bypass prefix, connected or local destination, bypass policy), unparsable, "
                       "no_wan (no WAN available), non_ip. wanlb never drops packets.");
    for (const char* reason : kUnbalancedReasons) f.add_u64({{"reason", reason}}, u64(cnt, reason));
  }
  family("wanlb_fragments_total", "counter", "IP fragments seen (balanced by addresses only).")
      .add_u64({}, u64(cnt, "fragments"));
  family("wanlb_inbound_flows_total", "counter",
         "Replies of connections that came in from a WAN, pinned to that WAN.")
      .add_u64({}, u64(cnt, "inbound"));
  family("wanlb_sticky_flows_total", "counter", "New connections that followed their address pair's WAN (sticky: pair).")
      .add_u64({}, u64(cnt, "sticky"));
  family("wanlb_xdp_redirected_packets_total", "counter",
         "Packets the XDP fast path forwarded to a WAN itself (mode: xdp LAN interfaces).")
      .add_u64({}, u64(cnt, "xdp_redirect"));
  {
    Family& f = family("wanlb_policy_hits_total", "counter", "New connections decided by each policy.");
    std::map<std::string, int> seen;
    int index = 0;
    for (const json& p : member(status, "policies")) {
      index++;
      if (!p.is_object()) continue;
      std::string name = str(p, "name");
      if (seen[name]++) name += "#" + std::to_string(index);  // never two series with one label set
      f.add_u64({{"policy", name}}, u64(p, "hits"));
    }
  }
  family("wanlb_reloads_total", "counter", "Configuration reloads applied since the agent started.")
      .add_u64({}, counters.reloads_total);
  family("wanlb_reload_failures_total", "counter",
         "Configuration reloads refused (the running configuration was kept).")
      .add_u64({}, counters.reload_failures_total);
  family("wanlb_probe_replies_ignored_total", "counter", "Stray or forged probe replies the prober ignored.")
      .add_u64({}, counters.probe_replies_ignored_total);

  std::string out;
  for (const Family& f : families) f.render(&out);
  return out;
}

// ---------------------------------------------------------- listen address

bool parse_listen_address(const std::string& text, std::string* host, int* port, std::string* why) {
  auto fail = [&](const std::string& msg) {
    if (why) *why = msg;
    return false;
  };
  if (text.find('\0') != std::string::npos) return fail("contains a NUL character");
  std::string h, p;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos) return fail("'" + text + "': missing ']' after the IPv6 address");
    h = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':')
      return fail("'" + text + "': expected ':<port>' after ']'");
    p = text.substr(close + 2);
    in6_addr a6{};
    if (inet_pton(AF_INET6, h.c_str(), &a6) != 1) return fail("'" + h + "' is not an IPv6 address");
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos) return fail("'" + text + "': expected host:port (e.g. 127.0.0.1:9469)");
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
    if (h.find(':') != std::string::npos)
      return fail("'" + text + "': an IPv6 address needs brackets, e.g. [::1]:9469");
    in_addr a4{};
    if (inet_pton(AF_INET, h.c_str(), &a4) != 1) return fail("'" + h + "' is not an IPv4 address (names are not accepted)");
  }
  if (p.empty()) return fail("'" + text + "': missing port");
  if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || (p.size() > 1 && p[0] == '0'))
    return fail("port '" + p + "' is not a number 1..65535");
  const int n = std::stoi(p);
  if (n < 1 || n > 65535) return fail("port " + p + " is out of range 1..65535");
  if (host) *host = h;
  if (port) *port = n;
  return true;
}

// ------------------------------------------------------------------ server

namespace {

// Only SO_REUSEADDR (a restarted agent rebinds despite TIME_WAIT), not
// httplib's default SO_REUSEPORT, which would let a second agent share the
// port silently; and close-on-exec, so hooks do not inherit the socket.
void server_socket_options(int sock) {
  int yes = 1;
  setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  int flags = fcntl(sock, F_GETFD);
  if (flags >= 0) fcntl(sock, F_SETFD, flags | FD_CLOEXEC);
}

// Why binding host:port fails, found by trying it with the same options
// (httplib only says that it failed).
std::string bind_error(const std::string& host, int port) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (host.find(':') != std::string::npos) {
    family = AF_INET6;
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) return "bad address";
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) return "bad address";
    len = sizeof *a;
  }
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::strerror(errno);
  server_socket_options(fd);
  std::string why = "cannot bind";
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) why = std::strerror(errno);
  else if (listen(fd, 1) != 0) why = std::strerror(errno);
  close(fd);
  return why;
}

}  // namespace

struct MetricsServer::Impl {
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> finished{false};
};

MetricsServer::MetricsServer(const std::string& listen, std::function<std::string()> render)
    : impl_(std::make_unique<Impl>()) {
  std::string host, why;
  int port = 0;
  if (!parse_listen_address(listen, &host, &port, &why))
    throw std::runtime_error("metrics: cannot listen on '" + listen + "': " + why);

  httplib::Server& s = impl_->server;
  // A handful of scrapers at most: no need for httplib's default pool of
  // one thread per CPU. Short timeouts: stopping waits for the workers, and
  // a worker waits out an idle keep-alive connection (1 s) or a client that
  // sends half a request (2 s), so the destructor returns within about 2 s.
  s.new_task_queue = [] { return new httplib::ThreadPool(4); };
  s.set_keep_alive_timeout(1);
  s.set_read_timeout(2, 0);
  s.set_write_timeout(2, 0);
  s.set_payload_max_length(64 * 1024);
  s.set_socket_options(server_socket_options);
  s.set_address_family(host.find(':') != std::string::npos ? AF_INET6 : AF_INET);
  s.Get("/metrics", [render](const httplib::Request&, httplib::Response& res) {
    try {
      res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(std::string("cannot render metrics: ") + e.what() + "\n", "text/plain; charset=utf-8");
    }
  });

  const std::string shown = host.find(':') != std::string::npos ? "[" + host + "]:" + std::to_string(port) : listen;
  if (!s.bind_to_port(host, port, AI_NUMERICHOST | AI_PASSIVE))
    throw std::runtime_error("metrics: cannot listen on " + shown + ": " + bind_error(host, port));

  Impl* impl = impl_.get();
  impl->thread = std::thread([impl] {
    impl->server.listen_after_bind();
    impl->finished = true;
  });
  // stop() is a no-op until the accept loop runs: wait for it, so that the
  // destructor can always stop the thread.
  while (!impl->server.is_running() && !impl->finished) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

MetricsServer::~MetricsServer() {
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace wanlb
