// Tests of the Prometheus metrics (agent/metrics.cpp): the exposition text
// rendered from a hand-written `wanlb status --json` object, a format check
// of every line, and the HTTP server.
//
// The server tests bind only to loopback with a random high port, and run
// in a forked child that first moves into a private network namespace when
// it can (as root, or through an unprivileged user namespace), so they
// never touch the host's namespace; otherwise they use the host's loopback.
#include "metrics.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace wanlb {
namespace {

// Two WANs, one up and one down, as cmd_status builds it.
const char* const kStatus = R"({
  "data_path": "pinned",
  "classifier": "both-addresses",
  "flow_entries": 42,
  "wans": [
    {"id": 1, "name": "isp1", "interface": "eth1", "gateway": "192.0.2.1", "weight": 3, "tier": 1,
     "configured_share": 0.75, "slot_share": 1.0, "state": "up", "carries_flows": true,
     "since": "2023-11-14T22:13:20Z", "since_unix_ms": 1700000000123, "reason": "10 passed rounds in a row",
     "rtt_ms": 12.3, "loss_percent": 2.5, "mark": 65536, "table": 100,
     "flows": 40, "active_flows": 17, "packets": 987654, "bytes": 123456789012, "new_flows": 5555},
    {"id": 2, "name": "isp2", "interface": "ppp0", "gateway": "-", "weight": 1, "tier": 2,
     "configured_share": 0.25, "slot_share": 0.0, "state": "down", "carries_flows": false,
     "since": "2023-11-14T22:15:00Z", "since_unix_ms": 1700000100000, "reason": "carrier lost",
     "rtt_ms": 0.0, "loss_percent": 100.0, "mark": 131072, "table": 101,
     "flows": 2, "active_flows": 0, "packets": 10, "bytes": 1500, "new_flows": 2}
  ],
  "counters": {"bypassed": 11, "unparsable": 1, "no_wan": 3, "non_ip": 250, "fragments": 4, "inbound": 6, "sticky": 8},
  "all_down": false,
  "policies": [
    {"name": "voip", "action": "wans", "wans": ["isp1", "isp2"], "hits": 12},
    {"name": "a\"b\\c\nd", "action": "bypass", "wans": [], "hits": 5}
  ],
  "bypass": []
})";

AgentCounters test_counters() {
  AgentCounters c;
  c.state_changes_total = 7;
  c.last_change_unix_ms = 1700000100000;
  c.reloads_total = 2;
  c.reload_failures_total = 1;
  c.probe_replies_ignored_total = 9;
  return c;
}

std::string render_test() { return render_metrics(nlohmann::json::parse(kStatus), test_counters()); }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

// ------------------------------------------------------------ format check

struct Sample {
  std::string name;
  std::string labels;  // "{...}" or ""
  double value = 0;
};

struct Parsed {
  std::vector<std::string> errors;
  std::map<std::string, int> help_count, type_count;
  std::map<std::string, std::string> type;  // family -> counter/gauge/...
  std::vector<Sample> samples;
};

// A small checker of the text format 0.0.4: comment lines are "# HELP name
// text" or "# TYPE name type", HELP and TYPE come once per family and
// before its samples, a family's samples are contiguous, every sample line
// is `name{label="value",...} value` with proper names and escapes, and no
// series repeats.
Parsed check_format(const std::string& text) {
  static const std::regex kName("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex kSample(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")*\})? ([^ ]+))");
  static const std::regex kValue(R"([-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|NaN|[-+]Inf)");
  Parsed p;
  if (text.empty() || text.back() != '\n') p.errors.push_back("text does not end with a line feed");
  std::set<std::string> finished, series;
  std::string current;
  for (const std::string& l : lines_of(text)) {
    auto err = [&](const std::string& what) { p.errors.push_back(what + ": '" + l + "'"); };
    if (l.rfind("# ", 0) == 0) {
      std::istringstream in(l.substr(2));
      std::string kind, name, rest;
      in >> kind >> name;
      std::getline(in, rest);
      if (!std::regex_match(name, kName)) err("bad metric name in comment");
      if (kind == "HELP") {
        p.help_count[name]++;
        if (rest.size() < 2) err("empty HELP");
      } else if (kind == "TYPE") {
        p.type_count[name]++;
        const std::string t = rest.empty() ? "" : rest.substr(1);
        if (t != "counter" && t != "gauge" && t != "histogram" && t != "summary" && t != "untyped")
          err("bad TYPE");
        p.type[name] = t;
      } else {
        err("unknown comment");
      }
      if (name != current) {
        if (finished.count(name)) err("family comment after its samples ended");
        if (!current.empty()) finished.insert(current);
        current = name;
      }
      continue;
    }
    std::smatch m;
    if (!std::regex_match(l, m, kSample)) {
      err("not a sample line");
      continue;
    }
    Sample s{m[1], m[2], 0};
    if (!std::regex_match(std::string(m[3]), kValue)) err("bad value");
    s.value = std::strtod(std::string(m[3]).c_str(), nullptr);
    if (s.name != current) err("sample outside its family's block (no HELP/TYPE right before)");
    if (!p.help_count.count(s.name) || !p.type_count.count(s.name)) err("sample without HELP or TYPE");
    if (!series.insert(s.name + s.labels).second) err("duplicate series");
    p.samples.push_back(s);
  }
  for (const auto& [name, n] : p.help_count)
    if (n != 1) p.errors.push_back("HELP of " + name + " appears " + std::to_string(n) + " times");
  for (const auto& [name, n] : p.type_count)
    if (n != 1) p.errors.push_back("TYPE of " + name + " appears " + std::to_string(n) + " times");
  return p;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// ------------------------------------------------------------- rendering

TEST(Metrics, ExactLines) {
  const std::string text = render_test();
  const std::vector<std::string> want = {
      std::string("wanlb_build_info{version=\"") + WANLB_VERSION + "\"} 1",
      "# HELP wanlb_wan_up 1 if the WAN's health state is up, else 0.",
      "# TYPE wanlb_wan_up gauge",
      "wanlb_wan_up{wan=\"isp1\",interface=\"eth1\"} 1",
      "wanlb_wan_up{wan=\"isp2\",interface=\"ppp0\"} 0",
      "wanlb_wan_state{wan=\"isp1\",state=\"up\"} 1",
      "wanlb_wan_state{wan=\"isp1\",state=\"down\"} 0",
      "wanlb_wan_state{wan=\"isp1\",state=\"degraded\"} 0",
      "wanlb_wan_state{wan=\"isp1\",state=\"probing\"} 0",
      "wanlb_wan_state{wan=\"isp2\",state=\"up\"} 0",
      "wanlb_wan_state{wan=\"isp2\",state=\"down\"} 1",
      "wanlb_wan_live{wan=\"isp1\"} 1",
      "wanlb_wan_live{wan=\"isp2\"} 0",
      "wanlb_wan_weight{wan=\"isp1\"} 3",
      "wanlb_wan_tier{wan=\"isp2\"} 2",
      "wanlb_wan_configured_share_ratio{wan=\"isp1\"} 0.75",
      "wanlb_wan_slot_share_ratio{wan=\"isp2\"} 0",
      "wanlb_wan_rtt_seconds{wan=\"isp1\"} 0.0123",
      "wanlb_wan_rtt_seconds{wan=\"isp2\"} 0",
      "wanlb_wan_probe_loss_ratio{wan=\"isp1\"} 0.025",
      "wanlb_wan_probe_loss_ratio{wan=\"isp2\"} 1",
      "wanlb_wan_last_change_timestamp_seconds{wan=\"isp1\"} 1700000000.123",
      "wanlb_wan_last_change_timestamp_seconds{wan=\"isp2\"} 1700000100",
      "wanlb_wan_flows{wan=\"isp1\"} 40",
      "wanlb_wan_active_flows{wan=\"isp1\"} 17",
      "# TYPE wanlb_wan_packets_total counter",
      "wanlb_wan_packets_total{wan=\"isp1\"} 987654",
      "wanlb_wan_bytes_total{wan=\"isp1\"} 123456789012",
      "wanlb_wan_bytes_total{wan=\"isp2\"} 1500",
      "wanlb_wan_new_flows_total{wan=\"isp2\"} 2",
      "wanlb_all_wans_down 0",
      "wanlb_flow_entries 42",
      "wanlb_state_changes_total 7",
      "wanlb_last_state_change_timestamp_seconds 1700000100",
      "wanlb_unbalanced_packets_total{reason=\"bypassed\"} 11",
      "wanlb_unbalanced_packets_total{reason=\"unparsable\"} 1",
      "wanlb_unbalanced_packets_total{reason=\"no_wan\"} 3",
      "wanlb_unbalanced_packets_total{reason=\"non_ip\"} 250",
      "wanlb_fragments_total 4",
      "wanlb_inbound_flows_total 6",
      "wanlb_sticky_flows_total 8",
      "wanlb_policy_hits_total{policy=\"voip\"} 12",
      "wanlb_reloads_total 2",
      "wanlb_reload_failures_total 1",
      "wanlb_probe_replies_ignored_total 9",
  };
  for (const auto& w : want) EXPECT_TRUE(has_line(text, w)) << "missing line: " << w << "\n--- output:\n" << text;
}

TEST(Metrics, LabelValuesAreEscaped) {
  // Backslash, double quote and line feed; nothing else.
  const std::string text = render_test();
  EXPECT_TRUE(has_line(text, "wanlb_policy_hits_total{policy=\"a\\\"b\\\\c\\nd\"} 5")) << text;

  nlohmann::json s = nlohmann::json::parse(kStatus);
  s["wans"][0]["name"] = "tab\there 'x' \\";
  s["wans"][0]["interface"] = "\"q\"";
  const std::string t2 = render_metrics(s, {});
  EXPECT_TRUE(has_line(t2, "wanlb_wan_up{wan=\"tab\there 'x' \\\\\",interface=\"\\\"q\\\"\"} 1")) << t2;
  EXPECT_TRUE(check_format(t2).errors.empty());
}

TEST(Metrics, PassesFormatCheck) {
  const Parsed p = check_format(render_test());
  for (const auto& e : p.errors) ADD_FAILURE() << e;
  EXPECT_EQ(p.samples.size(), 54u);  // 2 WANs x 12 + 2 x 4 states + 22 others
}

TEST(Metrics, HelpAndTypeOncePerFamilyAndTotalOnlyOnCounters) {
  const Parsed p = check_format(render_test());
  ASSERT_TRUE(p.errors.empty());
  std::set<std::string> families;
  for (const auto& s : p.samples) families.insert(s.name);
  for (const auto& f : families) {
    EXPECT_EQ(p.help_count.count(f) ? p.help_count.at(f) : 0, 1) << f;
    EXPECT_EQ(p.type_count.count(f) ? p.type_count.at(f) : 0, 1) << f;
    const std::string type = p.type.count(f) ? p.type.at(f) : "";
    EXPECT_EQ(ends_with(f, "_total"), type == "counter") << f << " is a " << type;
    EXPECT_EQ(f.rfind("wanlb_", 0), 0u) << f;
  }
  // With this status every announced family has samples (without
  // policies, wanlb_policy_hits_total would legitimately have none).
  for (const auto& [f, n] : p.type_count) EXPECT_TRUE(families.count(f)) << f << " has no samples";
}

TEST(Metrics, EveryDocumentedFamilyIsPresent) {
  const Parsed p = check_format(render_test());
  const std::vector<std::string> names = {
      "wanlb_build_info", "wanlb_wan_up", "wanlb_wan_state", "wanlb_wan_live", "wanlb_wan_weight", "wanlb_wan_tier",
      "wanlb_wan_configured_share_ratio", "wanlb_wan_slot_share_ratio", "wanlb_wan_rtt_seconds",
      "wanlb_wan_probe_loss_ratio", "wanlb_wan_last_change_timestamp_seconds", "wanlb_wan_flows",
      "wanlb_wan_active_flows", "wanlb_wan_packets_total", "wanlb_wan_bytes_total", "wanlb_wan_new_flows_total",
      "wanlb_all_wans_down", "wanlb_flow_entries", "wanlb_state_changes_total",
      "wanlb_last_state_change_timestamp_seconds", "wanlb_unbalanced_packets_total", "wanlb_fragments_total",
      "wanlb_inbound_flows_total", "wanlb_sticky_flows_total", "wanlb_xdp_redirected_packets_total",
      "wanlb_policy_hits_total", "wanlb_reloads_total",
      "wanlb_reload_failures_total", "wanlb_probe_replies_ignored_total"};
  for (const auto& n : names) EXPECT_EQ(p.type_count.count(n), 1u) << n;
  EXPECT_EQ(p.type_count.size(), names.size()) << "a family was added: list it here and in docs/config.md";

  // docs/config.md lists every family.
  FILE* f = std::fopen(WANLB_SOURCE_DIR "/docs/config.md", "r");
  ASSERT_NE(f, nullptr);
  std::string doc;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) doc.append(buf, n);
  std::fclose(f);
  for (const auto& n : names) EXPECT_NE(doc.find("`" + n), std::string::npos) << n << " is not in docs/config.md";
}

TEST(Metrics, RatiosAndSecondsInBaseUnits) {
  nlohmann::json s = nlohmann::json::parse(kStatus);
  s["wans"][0]["rtt_ms"] = 1500.25;       // 1.50025 s
  s["wans"][0]["loss_percent"] = 0.0001;  // 1 ppm
  s["wans"][1]["loss_percent"] = 250.0;   // nonsense: clamped to 1
  const Parsed p = check_format(render_metrics(s, {}));
  ASSERT_TRUE(p.errors.empty());
  std::map<std::string, double> v;
  for (const auto& x : p.samples) v[x.name + x.labels] = x.value;
  EXPECT_DOUBLE_EQ(v.at("wanlb_wan_rtt_seconds{wan=\"isp1\"}"), 1.50025);
  EXPECT_DOUBLE_EQ(v.at("wanlb_wan_probe_loss_ratio{wan=\"isp1\"}"), 0.000001);
  EXPECT_DOUBLE_EQ(v.at("wanlb_wan_probe_loss_ratio{wan=\"isp2\"}"), 1.0);
  for (const auto& x : p.samples) {
    if (ends_with(x.name, "_ratio")) {
      EXPECT_GE(x.value, 0.0) << x.name << x.labels;
      EXPECT_LE(x.value, 1.0) << x.name << x.labels;
    }
  }
}

TEST(Metrics, AllDownAndAgentCounters) {
  nlohmann::json s = nlohmann::json::parse(kStatus);
  s["all_down"] = true;
  AgentCounters c;
  c.state_changes_total = 18446744073709551615ULL;  // counters are printed exactly
  const std::string text = render_metrics(s, c);
  EXPECT_TRUE(has_line(text, "wanlb_all_wans_down 1"));
  EXPECT_TRUE(has_line(text, "wanlb_state_changes_total 18446744073709551615"));
  EXPECT_TRUE(has_line(text, "wanlb_last_state_change_timestamp_seconds 0"));
}

TEST(Metrics, ToleratesMissingAndMistypedKeys) {
  for (const char* js : {"{}", "null", "[]", R"({"wans": 3, "counters": [], "policies": {}})",
                         R"({"wans": [{"name": "x"}, 7], "counters": {"no_wan": "many"}, "flow_entries": -3})"}) {
    const std::string text = render_metrics(nlohmann::json::parse(js), {});
    const Parsed p = check_format(text);
    for (const auto& e : p.errors) ADD_FAILURE() << js << ": " << e;
    EXPECT_TRUE(has_line(text, "wanlb_unbalanced_packets_total{reason=\"no_wan\"} 0")) << js;
    EXPECT_TRUE(has_line(text, "wanlb_flow_entries 0")) << js;
  }
  const std::string one = render_metrics(nlohmann::json::parse(R"({"wans": [{"name": "x"}]})"), {});
  EXPECT_TRUE(has_line(one, "wanlb_wan_up{wan=\"x\",interface=\"\"} 0")) << one;
  EXPECT_TRUE(has_line(one, "wanlb_wan_state{wan=\"x\",state=\"up\"} 0")) << one;
}

// ------------------------------------------------------------------ server

// Run `body` in a forked child, in a private network namespace with its
// loopback up when possible. gtest failures in the child print as usual;
// the child's exit status carries them back.
void run_isolated(const std::function<void()>& body) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    bool isolated = unshare(CLONE_NEWNET) == 0 || unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0;
    if (isolated) {
      int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      ifreq ifr{};
      std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
      bool up = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
      ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
      up = up && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
      if (fd >= 0) close(fd);
      if (!up) {
        std::printf("[   INFO   ] cannot bring up lo in the private namespace: %s\n", std::strerror(errno));
        std::fflush(stdout);
        _exit(2);
      }
    } else {
      std::printf("[   INFO   ] no private network namespace (%s): using the host's loopback\n", std::strerror(errno));
    }
    try {
      body();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "exception: " << e.what();
    }
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "child killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "failures in the child (see above)";
}

int random_port() {
  static std::mt19937 rng(std::random_device{}());
  return std::uniform_int_distribution<int>(20000, 60999)(rng);
}

// A MetricsServer on `host` ("127.0.0.1" / "[::1]") at a random high port,
// retried while the port is taken.
std::unique_ptr<MetricsServer> start_server(const std::string& host, std::function<std::string()> render, int* port) {
  for (int attempt = 0; attempt < 50; attempt++) {
    *port = random_port();
    try {
      return std::make_unique<MetricsServer>(host + ":" + std::to_string(*port), render);
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()).find(std::strerror(EADDRINUSE)) == std::string::npos) throw;
    }
  }
  throw std::runtime_error("no free port after 50 attempts");
}

TEST(MetricsServer, ServesMetricsOnLoopback) {
  run_isolated([] {
    const std::string want = render_test();
    int port = 0;
    auto server = start_server("127.0.0.1", [] { return render_test(); }, &port);
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(5, 0);
    client.set_read_timeout(5, 0);
    auto res = client.Get("/metrics");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->body, want);
    EXPECT_EQ(res->get_header_value("Content-Type").rfind("text/plain; version=0.0.4", 0), 0u)
        << res->get_header_value("Content-Type");

    auto other = client.Get("/other");
    ASSERT_TRUE(other);
    EXPECT_EQ(other->status, 404);
    auto root = client.Get("/");
    ASSERT_TRUE(root);
    EXPECT_EQ(root->status, 404);
    auto post = client.Post("/metrics", "x", "text/plain");
    ASSERT_TRUE(post);
    EXPECT_NE(post->status, 200);
  });
}

TEST(MetricsServer, RenderIsCalledPerScrapeAndErrorsAre500) {
  run_isolated([] {
    std::atomic<int> calls{0};
    int port = 0;
    auto server = start_server(
        "127.0.0.1",
        [&calls]() -> std::string {
          if (++calls == 2) throw std::runtime_error("maps gone");
          return "scrape " + std::to_string(calls.load()) + "\n";
        },
        &port);
    httplib::Client client("127.0.0.1", port);
    auto a = client.Get("/metrics");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->body, "scrape 1\n");
    auto b = client.Get("/metrics");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->status, 500);
    EXPECT_NE(b->body.find("maps gone"), std::string::npos);
    auto c = client.Get("/metrics");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->body, "scrape 3\n");
  });
}

TEST(MetricsServer, ServesOnIpv6Loopback) {
  run_isolated([] {
    // Without IPv6 (disabled in the kernel) there is nothing to test.
    int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    bool v6 = probe >= 0 && bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    if (probe >= 0) close(probe);
    if (!v6) {
      std::printf("[   INFO   ] no IPv6 loopback: skipped\n");
      return;
    }
    int port = 0;
    auto server = start_server("[::1]", [] { return std::string("v6\n"); }, &port);
    httplib::Client client("::1", port);
    auto res = client.Get("/metrics");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->body, "v6\n");
  });
}

TEST(MetricsServer, BindFailureNamesTheAddress) {
  run_isolated([] {
    // Another socket holds the port (a plain listener, no SO_REUSEPORT).
    int holder = -1, port = 0;
    for (int attempt = 0; attempt < 50 && holder < 0; attempt++) {
      port = random_port();
      holder = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ASSERT_GE(holder, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (bind(holder, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(holder, 1) != 0) {
        close(holder);
        holder = -1;
      }
    }
    ASSERT_GE(holder, 0);
    const std::string addr = "127.0.0.1:" + std::to_string(port);
    try {
      MetricsServer s(addr, [] { return std::string(); });
      ADD_FAILURE() << "bound " << addr << " although it is in use";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(addr), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(std::strerror(EADDRINUSE)), std::string::npos) << e.what();
    }
    close(holder);

    // A second wanlb on the same port fails too (no silent port sharing).
    int p2 = 0;
    auto first = start_server("127.0.0.1", [] { return std::string("first\n"); }, &p2);
    const std::string addr2 = "127.0.0.1:" + std::to_string(p2);
    EXPECT_THROW({ MetricsServer second(addr2, [] { return std::string(); }); }, std::runtime_error);
  });
}

TEST(MetricsServer, RejectsMalformedAddress) {
  for (const char* bad : {"localhost:9469", "127.0.0.1", "[::1]", "127.0.0.1:0"}) {
    try {
      MetricsServer s(bad, [] { return std::string(); });
      ADD_FAILURE() << "accepted " << bad;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

TEST(MetricsServer, StartStopRepeatedly) {
  run_isolated([] {
    for (int i = 0; i < 20; i++) {
      int port = 0;
      auto server = start_server("127.0.0.1", [] { return std::string("x\n"); }, &port);
      if (i % 2) {
        httplib::Client client("127.0.0.1", port);
        auto res = client.Get("/metrics");
        ASSERT_TRUE(res);
        EXPECT_EQ(res->body, "x\n");
      }
    }
  });
}

}  // namespace
}  // namespace wanlb
