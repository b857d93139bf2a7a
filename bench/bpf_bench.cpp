// wanlb-bench-bpf: cost of the LAN data path per packet, measured with
// BPF_PROG_TEST_RUN against an empty tc program run the same way.
//
// The kernel runs the program on a prepared skb in a loop and reports the
// mean time per run ("duration"): no driver, no qdisc, caches hot. The
// figures are therefore a lower bound for the program itself; the ratio to
// the empty program (same method, same run) is what survives a noisy box.
//
//   established  one flow, repeat = 1,000,000 after a warm-up packet
//   new flow     N distinct flows, each run once (repeat = 1), mean duration;
//                the empty program is measured the same way, since a
//                repeat=1 run carries fixed timer overhead a loop amortises
//   extra rows (no target): new flow with a 50,000-prefix policy list
//                loaded (no policy matches: every condition is evaluated,
//                both tries looked up), and established flow with sticky
//                pairs on
//
// Each case runs --rounds times (default 5); the table shows medians.
// Usage: sudo wanlb-bench-bpf [--rounds N] [--flows N] [--markdown FILE]
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_frames.h"
#include "datapath.h"
#include "empty_tc.skel.h"
#include "map_io.h"
#include "plan.h"
#include "policy_maps.h"
#include "slot_table.h"
#include "wanlb/dp_shared.h"

namespace {

using wanlb_bench::Frame;
using wanlb_bench::tcp_frame;
using wanlb_bench::test_run;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Row {
  std::string name;
  double wanlb_ns, empty_ns, target;  // target 0: informational row
  double ratio() const { return wanlb_ns / empty_ns; }
  bool pass() const { return target == 0 || ratio() <= target; }
};

class Bench {
 public:
  Bench(int rounds, uint32_t flows) : rounds_(rounds), flows_(flows), dp_(WANLB_DEFAULT_FLOW_ENTRIES, WANLB_DEFAULT_FLOW_ENTRIES, nullptr, &log_) {
    empty_ = empty_tc__open_and_load();
    if (!empty_) throw std::runtime_error("loading empty_tc");
    // Two WANs, all up, the default classifier; no bypass prefixes (an
    // empty LPM lookup is still made for every new flow).
    std::vector<wanlb_wan> wans(WANLB_MAX_WANS + 1);
    for (uint32_t id = 1; id <= 2; id++) {
      std::snprintf(wans[id].name, sizeof wans[id].name, "wan%u", id);
      wans[id].mark = id << 16;
      wans[id].weight = 1;
      wans[id].flags = WANLB_WAN_F_CONFIGURED | WANLB_WAN_F_UP;
    }
    wanlb::write_wans(dp_.map_fd(wanlb::MapId::Wans), wans);
    // As the agent configures it: inbound lookups on (a bare SYN skips
    // them), no policies, sticky pairs off.
    cfg_ = wanlb_config{WANLB_CLS_BOTH_ADDRESSES_AND_PORTS, 0x00ff0000, 0x5eed, WANLB_CFG_F_INBOUND};
    wanlb::write_config(dp_.map_fd(wanlb::MapId::Config), cfg_);
    std::vector<uint32_t> current;
    wanlb::sync_slots(dp_.map_fd(wanlb::MapId::Slots),
                      wanlb::build_slot_table(wanlb::slot_members(wans), WANLB_SLOT_COUNT), &current);
  }
  ~Bench() { empty_tc__destroy(empty_); }

  Row established(bool v6) {
    const uint32_t repeat = 1000000;
    Frame f = tcp_frame(v6, 1, 40000);
    test_run(wanlb_fd(), f, 1);  // warm-up: creates the flow
    std::vector<double> w, e;
    for (int r = 0; r < rounds_; r++) {
      w.push_back(test_run(wanlb_fd(), f, repeat));
      e.push_back(test_run(empty_fd(), f, repeat));
    }
    return {std::string("established TCP/IPv") + (v6 ? "6" : "4"), median(w), median(e), 3.0};
  }

  // Three policies, none of which matches the benchmark's flows, so each
  // new flow evaluates all of them: 50,000 destination prefixes (inside
  // 172.16/12) -> WAN 2; UDP port 53 -> WAN 1; source 192.168/16 -> bypass.
  // Returns the time apply_policies took.
  double load_policies() {
    std::mt19937 rng(50000);
    wanlb::PolicyConfig big, dns, guests;
    big.action = wanlb::PolicyAction::Wans;
    big.wan_ids = {2};
    for (int i = 0; i < 50000; i++) {
      wanlb::Prefix p;
      p.addr.family = AF_INET;
      p.len = static_cast<uint8_t>(16 + rng() % 17);
      uint32_t a = (0xac100000u | (rng() & 0x000fffffu)) & (p.len ? ~0u << (32 - p.len) : 0);
      a = htonl(a);
      std::memcpy(p.addr.bytes.data(), &a, 4);
      big.destination.push_back(p);
    }
    dns.action = wanlb::PolicyAction::Wans;
    dns.wan_ids = {1};
    dns.protocol = IPPROTO_UDP;
    dns.ports = {{53, 53}};
    guests.action = wanlb::PolicyAction::Bypass;
    std::string why;
    wanlb::Prefix g;
    wanlb::parse_prefix("192.168.0.0/16", &g, &why);
    guests.source = {g};
    std::vector<wanlb::PolicyConfig> pols = {big, dns, guests};
    auto t0 = std::chrono::steady_clock::now();
    auto r = wanlb::apply_policies(wanlb::policy_map_fds(dp_), pols);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    policy_entries_ = r.trie_updates;
    cfg_.n_policies = static_cast<uint32_t>(pols.size());
    wanlb::write_config(dp_.map_fd(wanlb::MapId::Config), cfg_);
    return ms;
  }
  size_t policy_entries() const { return policy_entries_; }

  void set_flags(uint32_t flags, uint32_t n_policies) {
    cfg_.flags = flags;
    cfg_.n_policies = n_policies;
    cfg_.sticky_timeout_s = 600;
    wanlb::write_config(dp_.map_fd(wanlb::MapId::Config), cfg_);
  }

  Row with_name(Row r, const std::string& name, double target) {
    r.name = name;
    r.target = target;
    return r;
  }

  Row new_flow(bool v6) {
    std::vector<double> w, e;
    for (int r = 0; r < rounds_; r++) {
      // Empty the table first: every round inserts into a table that is
      // not full, so LRU eviction does not creep into later rounds.
      wanlb::delete_flows_if(dp_.map_fd(wanlb::MapId::Flows), [](const wanlb::FlowEntry&) { return true; });
      std::vector<Frame> frames;
      frames.reserve(flows_);
      for (uint32_t i = 0; i < flows_; i++) frames.push_back(tcp_frame(v6, 0x100000 + i, static_cast<uint16_t>(1024 + r)));
      uint64_t wsum = 0, esum = 0;
      for (const Frame& f : frames) wsum += test_run(wanlb_fd(), f, 1);
      for (const Frame& f : frames) esum += test_run(empty_fd(), f, 1);
      w.push_back(static_cast<double>(wsum) / flows_);
      e.push_back(static_cast<double>(esum) / flows_);
    }
    uint64_t flows = wanlb::read_flows(dp_.map_fd(wanlb::MapId::Flows)).size();
    if (flows != flows_) throw std::runtime_error("expected " + std::to_string(flows_) + " new flows, table holds " + std::to_string(flows));
    return {std::string("new flow TCP/IPv") + (v6 ? "6" : "4"), median(w), median(e), 10.0};
  }

 private:
  int wanlb_fd() const { return dp_.prog_fd(); }
  int empty_fd() const { return bpf_program__fd(empty_->progs.wanlb_tc_empty); }

  int rounds_;
  uint32_t flows_;
  wanlb_config cfg_{};
  size_t policy_entries_ = 0;
  std::vector<std::string> log_;
  wanlb::Datapath dp_;
  empty_tc* empty_ = nullptr;
};

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::string table(const std::vector<Row>& rows, bool markdown) {
  std::ostringstream out;
  char buf[256];
  if (markdown) {
    out << "| case | wanlb ns/packet | empty ns/packet | ratio | target | result |\n";
    out << "|---|---:|---:|---:|---:|---|\n";
  } else {
    std::snprintf(buf, sizeof buf, "%-40s %12s %12s %7s %7s  %s\n", "case", "wanlb ns/pkt", "empty ns/pkt", "ratio", "target",
                  "result");
    out << buf;
  }
  for (const Row& r : rows) {
    std::string target = r.target == 0 ? "-" : "<= " + std::to_string(static_cast<int>(r.target)) + "x";
    const char* fmt = markdown ? "| %s | %.1f | %.1f | %.2fx | %s | %s |\n" : "%-40s %12.1f %12.1f %6.2fx %7s  %s\n";
    std::snprintf(buf, sizeof buf, fmt, r.name.c_str(), r.wanlb_ns, r.empty_ns, r.ratio(), target.c_str(),
                  r.target == 0 ? "-" : r.pass() ? "PASS" : "MISS");
    out << buf;
  }
  return out.str();
}

// Replace the text between the markers in `path` (append them if absent).
void write_markdown(const std::string& path, const std::string& section) {
  const std::string begin = "<!-- wanlb-bench-bpf:begin -->", end = "<!-- wanlb-bench-bpf:end -->";
  std::string text;
  {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  std::string block = begin + "\n" + section + end;
  size_t b = text.find(begin), e = text.find(end);
  if (b != std::string::npos && e != std::string::npos && e > b) {
    text.replace(b, e + end.size() - b, block);
  } else {
    if (!text.empty() && text.back() != '\n') text += '\n';
    text += "\n" + block + "\n";
  }
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("writing " + path);
}

}  // namespace

int main(int argc, char** argv) {
  std::string markdown;
  int rounds = 5;
  uint32_t flows = 100000;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--markdown" && i + 1 < argc) markdown = argv[++i];
    else if (a == "--rounds" && i + 1 < argc) rounds = std::max(1, std::atoi(argv[++i]));
    else if (a == "--flows" && i + 1 < argc) flows = static_cast<uint32_t>(std::max(1, std::atoi(argv[++i])));
    else {
      std::fprintf(stderr, "usage: %s [--rounds N] [--flows N] [--markdown FILE]\n", argv[0]);
      return 2;
    }
  }
  if (geteuid() != 0) {
    std::printf("wanlb-bench-bpf: skipped, needs root for BPF_PROG_TEST_RUN\n");
    return 0;
  }
  if (flows > WANLB_DEFAULT_FLOW_ENTRIES / 2) {
    std::fprintf(stderr, "--flows must stay well below the flow table size (%u)\n", WANLB_DEFAULT_FLOW_ENTRIES);
    return 2;
  }

  // test_run executes on the calling CPU: stay on one so per-CPU state and
  // caches do not move between runs.
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(sched_getcpu(), &set);
  sched_setaffinity(0, sizeof set, &set);

  try {
    Bench bench(rounds, flows);
    std::vector<Row> rows = {bench.established(false), bench.established(true), bench.new_flow(false),
                             bench.new_flow(true)};
    // Extra rows, informational (no target).
    double load_ms = bench.load_policies();
    rows.push_back(bench.with_name(bench.new_flow(false), "new flow TCP/IPv4, 50k-prefix policies", 0));
    bench.set_flags(WANLB_CFG_F_INBOUND | WANLB_CFG_F_STICKY_PAIR, 0);
    rows.push_back(bench.with_name(bench.established(false), "established TCP/IPv4, sticky pairs on", 0));
    char load[160];
    std::snprintf(load, sizeof load, "; policies: 50,000 prefixes (%zu trie entries) loaded in %.0f ms", bench.policy_entries(),
                  load_ms);
    struct utsname u {};
    uname(&u);
    char date[32];
    std::time_t now = std::time(nullptr);
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    std::ostringstream about;
    about << "kernel " << u.release << ", " << cpu_model() << " (" << sysconf(_SC_NPROCESSORS_ONLN) << " CPUs), "
          << rounds << " rounds, median; new flow: " << flows << " flows per round" << load;
    std::printf("%s\n%s\n\n%s", date, about.str().c_str(), table(rows, false).c_str());
    if (!markdown.empty()) {
      write_markdown(markdown, std::string("Measured ") + date + "; " + about.str() + ".\n\n" + table(rows, true));
      std::printf("\nwrote %s\n", markdown.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wanlb-bench-bpf: %s\n", e.what());
    return 1;
  }
  return 0;
}
