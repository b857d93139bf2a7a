// libFuzzer harness for the LAN data path (bpf/wanlb_tc.bpf.c), run through
// BPF_PROG_TEST_RUN. Needs root (CAP_BPF + CAP_NET_ADMIN). Attaches nothing,
// pins nothing; the process moves itself into a fresh network namespace
// first so the program's conntrack lookups see an empty table, not the
// host's. See docs/fuzzing.md for the properties and how to run it.
//
// Input layout (first 3 bytes are a header, the rest is data):
//   byte 0: bits 0-1 mode, bits 2-3 initial mark variant
//     mode 0: raw      the data is the whole Ethernet frame
//     mode 1: edit     template[byte 1], then the data as (offset, value)
//                      pairs, each setting one byte
//     mode 2: truncate template[byte 1] cut to byte 2 % (len + 1) bytes,
//                      then edits as in mode 1
//     mode 3: splice   the first byte 2 % (len + 1) bytes of template[byte 1],
//                      then the data as is
//   byte 1: template index (mod the number of templates, tests/fuzz/frames.h)
//   byte 2: length parameter
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "config.h"
#include "datapath.h"
#include "frames.h"
#include "map_io.h"
#include "policy_maps.h"
#include "prog_run.h"
#include "slot_table.h"
#include "wanlb/dp_shared.h"

using namespace wanlb_fuzz;

namespace {

constexpr uint32_t kMarkMask = 0x00ff0000;
constexpr uint32_t kFlowEntries = 1024;  // small: cheap to dump and clear
constexpr unsigned kClearEvery = 128;    // runs between full flow-map checks + clears
constexpr uint32_t kNWans = 2;

[[noreturn]] void violation(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "\n*** wanlb datapath property violated: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
  std::abort();
}

// Extra feedback for libFuzzer: the kernel program's branches are invisible
// to SanitizerCoverage, so each run bumps a counter naming its outcome
// (verdict x family x protocol class x fragment x flags). libFuzzer reads
// this section as additional coverage (LLVM's "extra counters").
__attribute__((section("__libfuzzer_extra_counters"))) uint8_t g_extra[512];

struct Snapshot {
  uint64_t cnt[WANLB_CNT_COUNT] = {};
  uint64_t pkts[kNWans + 2] = {};  // WAN ids 0..kNWans+1 (0 and 3 must never move)
  uint64_t newf[kNWans + 2] = {};
  uint64_t hits[WANLB_MAX_POLICIES] = {};
};

struct State {
  std::unique_ptr<wanlb::Datapath> dp;
  int prog = -1, flows = -1, counters = -1, stats = -1, pairs = -1, hits = -1;
  int ncpu = 1;
  std::vector<Frame> tmpl;
  Snapshot last;
  unsigned runs = 0;
  std::set<std::vector<uint8_t>> expected_keys;  // keys the reference parser allows since the last clear
  std::vector<uint64_t> pcpu;
  std::vector<wanlb_wan_stats> pcpu_stats;
};

State* g;

uint64_t sum_u64(int fd, uint32_t idx) {
  if (bpf_map_lookup_elem(fd, &idx, g->pcpu.data()) != 0) violation("lookup per-CPU counter %u: %s", idx, strerror(errno));
  uint64_t s = 0;
  for (uint64_t v : g->pcpu) s += v;
  return s;
}

Snapshot snapshot() {
  Snapshot s;
  for (uint32_t i = 0; i < WANLB_CNT_COUNT; i++) s.cnt[i] = sum_u64(g->counters, i);
  for (uint32_t id = 0; id < kNWans + 2; id++) {
    if (bpf_map_lookup_elem(g->stats, &id, g->pcpu_stats.data()) != 0) violation("lookup wan stats %u", id);
    for (const auto& st : g->pcpu_stats) {
      s.pkts[id] += st.packets;
      s.newf[id] += st.new_flows;
    }
  }
  for (uint32_t i = 0; i < 4; i++) s.hits[i] = sum_u64(g->hits, i);
  return s;
}

wanlb::Prefix pfx(const char* text) {
  wanlb::Prefix p;
  std::string why;
  if (!wanlb::parse_prefix(text, &p, &why)) violation("bad prefix %s: %s", text, why.c_str());
  return p;
}

void clear_map(int fd, size_t key_size) {
  std::vector<uint8_t> k(key_size), next(key_size);
  while (bpf_map_get_next_key(fd, nullptr, next.data()) == 0)
    if (bpf_map_delete_elem(fd, next.data()) != 0) violation("delete from map: %s", strerror(errno));
}

std::vector<uint8_t> key_bytes(const wanlb_flow_key& k) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(&k);
  return std::vector<uint8_t>(p, p + sizeof k);
}

// (d): a key the parser could have produced.
void check_key_shape(const wanlb_flow_key& k) {
  if (k.family != 2 && k.family != 10) violation("flow key family %u", k.family);
  if (k.pad[0] || k.pad[1]) violation("flow key pad not zero");
  if (k.family == 2)
    for (int i = 1; i < 4; i++)
      if (k.saddr[i] || k.daddr[i]) violation("IPv4 flow key with address word %d set", i);
  bool ports = k.proto == 6 || k.proto == 17;
  // bpf/parsing.h reads the echo id for protocol 1 and 58 in either family
  // (an IPv4 packet carrying protocol 58 is odd but harmless).
  bool icmp = k.proto == 1 || k.proto == 58;
  if (!ports && !icmp && (k.sport || k.dport)) violation("flow key proto %u with ports %u/%u", k.proto, k.sport, k.dport);
  if (icmp && k.dport) violation("ICMP flow key with dport %u", k.dport);
}

// Every kClearEvery runs: every key in the flow map is well formed and is
// one the reference parser produced in this window; then start afresh.
void check_and_clear_flows() {
  wanlb_flow_key cur{}, next{};
  const wanlb_flow_key* prev = nullptr;
  size_t n = 0;
  while (bpf_map_get_next_key(g->flows, prev, &next) == 0) {
    check_key_shape(next);
    if (!g->expected_keys.count(key_bytes(next))) violation("flow map holds a key no run of this window produced");
    cur = next;
    prev = &cur;
    n++;
  }
  if (n > g->expected_keys.size()) violation("flow map holds %zu keys, only %zu expected", n, g->expected_keys.size());
  clear_map(g->flows, sizeof(wanlb_flow_key));
  clear_map(g->pairs, sizeof(wanlb_pair_key));
  g->expected_keys.clear();
  g->last = snapshot();
}

void setup() {
  // A private network namespace: the program's bpf_skb_ct_lookup then
  // sees this namespace's (empty) conntrack table, never the host's.
  if (unshare(CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "fuzz_datapath: unshare(CLONE_NEWNET): %s (needs root)\n", strerror(errno));
    std::exit(1);
  }
  libbpf_set_print([](libbpf_print_level lvl, const char* f, va_list ap) {
    return lvl == LIBBPF_WARN ? std::vfprintf(stderr, f, ap) : 0;
  });
  g = new State;
  std::vector<std::string> log;
  try {
    g->dp = std::make_unique<wanlb::Datapath>(kFlowEntries, kFlowEntries, nullptr, &log);  // sticky pairs on
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_datapath: cannot load the data path: %s (needs root)\n", e.what());
    std::exit(1);
  }
  using wanlb::MapId;
  g->prog = g->dp->prog_fd();
  g->flows = g->dp->map_fd(MapId::Flows);
  g->counters = g->dp->map_fd(MapId::Counters);
  g->stats = g->dp->map_fd(MapId::WanStats);
  g->pairs = g->dp->map_fd(MapId::Pairs);
  g->hits = g->dp->map_fd(MapId::PolHits);
  g->ncpu = libbpf_num_possible_cpus();
  g->pcpu.resize(g->ncpu);
  g->pcpu_stats.resize(g->ncpu);

  // Two WANs, up; WAN i has mark i << 16.
  std::vector<wanlb_wan> wans(WANLB_MAX_WANS + 1);
  std::vector<wanlb::SlotMember> members;
  for (uint32_t id = 1; id <= kNWans; id++) {
    wanlb_wan& w = wans[id];
    std::snprintf(w.name, sizeof w.name, "wan%u", id);
    w.mark = id << 16;
    w.table = 100 + id;
    w.weight = id;
    w.tier = 1;
    w.flags = WANLB_WAN_F_CONFIGURED | WANLB_WAN_F_UP;
    members.push_back({id, w.name, w.weight});
  }
  wanlb::write_wans(g->dp->map_fd(MapId::Wans), wans);
  std::vector<uint32_t> cur;
  wanlb::sync_slots(g->dp->map_fd(MapId::Slots), wanlb::build_slot_table(members, WANLB_SLOT_COUNT), &cur);

  std::vector<wanlb::BypassEntry> bypass;
  for (const char* p : {"192.168.0.0/16", "fd00::/8"}) bypass.push_back({pfx(p), WANLB_BYPASS_CONFIG});
  wanlb::sync_bypass(g->dp->map_fd(MapId::Bypass4), g->dp->map_fd(MapId::Bypass6), bypass);

  std::vector<wanlb::PolicyConfig> pols(4);
  pols[0].name = "web";  // TCP 443 to 203.0.113.0/24 -> WAN 2
  pols[0].destination = {pfx("203.0.113.0/24")};
  pols[0].protocol = 6;
  pols[0].ports = {{443, 443}};
  pols[0].action = wanlb::PolicyAction::Wans;
  pols[0].wans = {"wan2"};
  pols[0].wan_ids = {2};
  pols[1].name = "nope";  // 2001:db8:bad::/48 -> main table
  pols[1].destination = {pfx("2001:db8:bad::/48")};
  pols[1].action = wanlb::PolicyAction::Bypass;
  pols[2].name = "dns";  // UDP 53, 5300-5399 -> WAN 1, else 2
  pols[2].protocol = 17;
  pols[2].ports = {{53, 53}, {5300, 5399}};
  pols[2].action = wanlb::PolicyAction::Wans;
  pols[2].wans = {"wan1", "wan2"};
  pols[2].wan_ids = {1, 2};
  pols[3].name = "lab";  // from 10.9.0.0/16: balanced
  pols[3].source = {pfx("10.9.0.0/16")};
  pols[3].action = wanlb::PolicyAction::Balance;
  wanlb::apply_policies(wanlb::policy_map_fds(*g->dp), pols);

  wanlb_config cfg{};
  cfg.classifier = WANLB_CLS_BOTH_ADDRESSES_AND_PORTS;
  cfg.mark_mask = kMarkMask;
  cfg.hash_seed = 0x5eed1234;
  cfg.flags = WANLB_CFG_F_STICKY_PAIR | WANLB_CFG_F_INBOUND;
  cfg.n_policies = static_cast<uint32_t>(pols.size());
  cfg.sticky_timeout_s = 600;
  wanlb::write_config(g->dp->map_fd(MapId::Config), cfg);

  g->tmpl = templates();
  g->last = snapshot();
}

bool in4(const wanlb_flow_key& k, uint32_t net, int len, bool dst) {
  uint32_t a = ntohl(dst ? k.daddr[0] : k.saddr[0]);
  return (a >> (32 - len)) == (net >> (32 - len));
}
bool in6(const wanlb_flow_key& k, const uint8_t* net, int bytes) {
  return std::memcmp(k.daddr, net, bytes) == 0;
}

Frame build_frame(const uint8_t* data, size_t size, uint32_t* mark) {
  Frame f;
  if (size < 3) return f;
  uint8_t mode = data[0] & 3, markv = (data[0] >> 2) & 3;
  static const uint32_t marks[4] = {0, 0x80000001u, 0x00ff0000u, 0x12340000u | 0x00030000u};
  *mark = marks[markv];
  const Frame& t = g->tmpl[data[1] % g->tmpl.size()];
  size_t cut = data[2] % (t.size() + 1);
  const uint8_t* rest = data + 3;
  size_t n = size - 3;
  switch (mode) {
    case 0:
      f.assign(rest, rest + n);
      break;
    case 1:
    case 2:
      f = t;
      if (mode == 2) f.resize(cut);
      for (size_t i = 0; i + 1 < n && !f.empty(); i += 2) f[rest[i] % f.size()] = rest[i + 1];
      break;
    case 3:
      f.assign(t.begin(), t.begin() + cut);
      f.insert(f.end(), rest, rest + n);
      break;
  }
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setup();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  uint32_t mark_in = 0;
  Frame f = build_frame(data, size, &mark_in);
  // The kernel refuses skb test runs shorter than an Ethernet header or
  // longer than a page minus head/tailroom: nothing of ours to test there.
  if (f.size() < 14 || f.size() > 3000) return -1;

  RefPacket ref;
  Parse want = ref_parse(f.data(), f.size(), &ref);

  wanlb::SkbRun run = wanlb::run_skb(g->prog, f, mark_in);
  if (run.err) {
    // The kernel also refuses some frames whose EtherType promises an IP
    // header that is not there (e.g. 0x86dd with less than 40 bytes after
    // the Ethernet header): the program never runs, nothing may move.
    int err = -run.err;
    Snapshot now = snapshot();
    if (err != EINVAL || std::memcmp(&now, &g->last, sizeof now) != 0)
      violation("BPF_PROG_TEST_RUN failed on a %zu-byte frame: %s", f.size(), strerror(err));
    return -1;
  }

  Snapshot now = snapshot();
  const Snapshot& was = g->last;
  uint64_t d[WANLB_CNT_COUNT];
  for (int i = 0; i < WANLB_CNT_COUNT; i++) d[i] = now.cnt[i] - was.cnt[i];
  uint64_t dp[kNWans + 2], dn[kNWans + 2], wan_total = 0;
  int wan = 0;
  for (uint32_t id = 0; id < kNWans + 2; id++) {
    dp[id] = now.pkts[id] - was.pkts[id];
    dn[id] = now.newf[id] - was.newf[id];
    wan_total += dp[id];
    if (dp[id]) wan = static_cast<int>(id);
  }
  uint64_t dhits = 0;
  int hit = -1;
  for (int i = 0; i < 4; i++)
    if (now.hits[i] != was.hits[i]) dhits += now.hits[i] - was.hits[i], hit = i;
  g->last = now;

  // (a) wanlb never drops: TC_ACT_OK on every path.
  if (run.retval != 0) violation("retval %u, want TC_ACT_OK (0)", run.retval);

  // (c) exactly one terminal counter moved, by one.
  uint64_t terminal = wan_total + d[WANLB_CNT_BYPASSED] + d[WANLB_CNT_UNPARSABLE] + d[WANLB_CNT_NON_IP] +
                      d[WANLB_CNT_NO_WAN];
  if (terminal != 1)
    violation("terminal counters moved by %llu (wan %llu bypassed %llu unparsable %llu non_ip %llu no_wan %llu)",
              (unsigned long long)terminal, (unsigned long long)wan_total,
              (unsigned long long)d[WANLB_CNT_BYPASSED], (unsigned long long)d[WANLB_CNT_UNPARSABLE],
              (unsigned long long)d[WANLB_CNT_NON_IP], (unsigned long long)d[WANLB_CNT_NO_WAN]);
  if (wan_total && (wan < 1 || wan > (int)kNWans)) violation("packets counted on WAN id %d, not configured", wan);
  for (uint32_t id = 0; id < kNWans + 2; id++)
    if (dn[id] > dp[id]) violation("new_flows of WAN %u grew without its packets", id);
  // Side counters move at most by one, and only on a parsed packet.
  for (int c : {WANLB_CNT_FRAGMENTS, WANLB_CNT_INBOUND, WANLB_CNT_STICKY})
    if (d[c] > 1) violation("counter %d moved by %llu", c, (unsigned long long)d[c]);
  if (dhits > 1) violation("policy hits moved by %llu", (unsigned long long)dhits);
  // Both WANs are up and the slot table is full: no_wan is unreachable.
  if (d[WANLB_CNT_NO_WAN]) violation("no_wan counted while every slot names a live WAN");
  // Inbound needs a conntrack entry: none exists in this namespace.
  if (d[WANLB_CNT_INBOUND]) violation("inbound counted with an empty conntrack table");

  // (b) mark: untouched unless a WAN was chosen; then only the mask bits change.
  uint32_t want_mark = wan_total ? (mark_in & ~kMarkMask) | ((uint32_t)wan << 16) : mark_in;
  if (run.mark != want_mark)
    violation("mark 0x%08x, want 0x%08x (in 0x%08x, wan %d)", run.mark, want_mark, mark_in, wan);

  // The verdict against the reference parser (bpf/parsing.h's rules).
  bool got_nonip = d[WANLB_CNT_NON_IP], got_bad = d[WANLB_CNT_UNPARSABLE];
  if ((want == Parse::NotIp) != got_nonip || (want == Parse::Bad) != got_bad)
    violation("parse verdict: reference says %s, program counted non_ip %d unparsable %d",
              want == Parse::Ok ? "ok" : want == Parse::NotIp ? "not-ip" : "bad", got_nonip, got_bad);
  if (want == Parse::Ok) {
    if ((d[WANLB_CNT_FRAGMENTS] == 1) != ref.is_fragment)
      violation("fragments counter moved by %llu, reference fragment=%d", (unsigned long long)d[WANLB_CNT_FRAGMENTS],
                ref.is_fragment);
    const wanlb_flow_key& k = ref.key;
    check_key_shape(k);
    bool v4 = k.family == 2;
    static const uint8_t bad48[6] = {0x20, 0x01, 0x0d, 0xb8, 0x0b, 0xad};
    static const uint8_t fd00[1] = {0xfd};
    bool bypass = v4 ? in4(k, 0xc0a80000u, 16, true) : in6(k, fd00, 1);
    // Policies, first match (ports only for unfragmented TCP/UDP).
    uint16_t dport = ntohs(k.dport);
    bool ports = !ref.is_fragment && (k.proto == 6 || k.proto == 17);
    int pol = -1;
    if (v4 && in4(k, 0xcb007100u, 24, true) && k.proto == 6 && ports && dport == 443) pol = 0;
    else if (!v4 && in6(k, bad48, 6)) pol = 1;
    else if (k.proto == 17 && ports && (dport == 53 || (dport >= 5300 && dport <= 5399))) pol = 2;
    else if (v4 && in4(k, 0x0a090000u, 16, false)) pol = 3;
    bool existing = false;
    wanlb_flow fv{};
    // A flow can only exist for a key that was balanced before; bypassed
    // destinations never get one. So: bypass prefix -> bypassed.
    if (bypass && !d[WANLB_CNT_BYPASSED]) violation("destination in a bypass prefix but not bypassed");
    if (!bypass) {
      if (pol == 1 && !d[WANLB_CNT_BYPASSED]) violation("policy 'nope' (bypass) matched, packet not bypassed");
      if (pol != 1 && d[WANLB_CNT_BYPASSED]) violation("bypassed, but no bypass prefix or bypass policy applies");
    }
    if (!d[WANLB_CNT_BYPASSED]) {
      if (!wan_total) violation("parsed, not bypassed, but no WAN counted");
      // The pinned flow: the reference key, on the counted WAN.
      if (bpf_map_lookup_elem(g->flows, &k, &fv) != 0) violation("no flow entry under the reference key");
      existing = dn[wan] == 0;
      if ((int)fv.wan_id != wan) violation("flow entry on WAN %u, packet counted on WAN %d", fv.wan_id, wan);
      g->expected_keys.insert(key_bytes(k));
      if (!existing) {
        // A new decision: policy web always means WAN 2; dns means WAN 1
        // (both WANs are up, WAN 1 first); they are flagged POLICY.
        if (pol == 0 && wan != 2) violation("policy 'web' matched, WAN %d chosen", wan);
        if (pol == 2 && wan != 1) violation("policy 'dns' matched, WAN %d chosen", wan);
        if ((pol == 0 || pol == 2) != bool(fv.flags & WANLB_FLOW_F_POLICY))
          violation("POLICY flag %d for policy %d", bool(fv.flags & WANLB_FLOW_F_POLICY), pol);
        if (bool(fv.flags & WANLB_FLOW_F_ESTABLISHED) != ref.tcp_ack)
          violation("ESTABLISHED flag %d on a new flow, ack %d", bool(fv.flags & WANLB_FLOW_F_ESTABLISHED),
                    ref.tcp_ack);
        if (pol >= 0 && hit != pol) violation("policy %d matched, hit counted for %d", pol, hit);
      } else {
        if (dhits) violation("policy hit counted for a packet of an existing flow");
        if (ref.tcp_ack && !(fv.flags & WANLB_FLOW_F_ESTABLISHED)) violation("ACK did not set ESTABLISHED");
      }
    }
    if (!existing && pol >= 0 && !bypass && hit != pol) violation("policy %d matched, hit counted for %d", pol, hit);
    if ((pol < 0 || bypass) && dhits) violation("policy hit without a matching policy");
    // Feedback: outcome x family x proto class x fragment x policy x existing.
    unsigned pc = k.proto == 6 ? 0 : k.proto == 17 ? 1 : (k.proto == 1 || k.proto == 58) ? 2 : 3;
    unsigned idx = (v4 ? 0 : 1) | pc << 1 | ref.is_fragment << 3 | (unsigned)(pol + 1) << 4 | existing << 7 |
                   (d[WANLB_CNT_BYPASSED] ? 1u : 0u) << 8;
    g_extra[idx % sizeof g_extra]++;
  } else {
    g_extra[want == Parse::NotIp ? 510 : 511]++;
    if (d[WANLB_CNT_FRAGMENTS] || d[WANLB_CNT_STICKY] || dhits) violation("side counters moved on an unparsed frame");
  }

  if (++g->runs % kClearEvery == 0) check_and_clear_flows();
  return 0;
}
