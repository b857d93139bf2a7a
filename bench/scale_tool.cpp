// wanlb-bench-scale: the measuring half of bench/scale_bench.sh.
//
//   fill  [--entries N] [--extra K] [--samples S]
//         Loads its own copy of the data path (the agent's Datapath class:
//         same object, flow_table_size = N, the default `sticky: none`;
//         nothing attached, nothing pinned) and, through BPF_PROG_TEST_RUN only:
//           - memory: `memlock:` of the flow map (and of every map) from
//             /proc/self/fdinfo before and after the fill; and of a pair
//             table sized as `sticky: pair` would size it (an LRU hash like
//             wanlb_pairs with N entries, created and measured on its own);
//           - the established-packet cost with 1,024 flows in the table and
//             with the table full (one hot flow, repeat = 1,000,000; and
//             S random established flows, repeat = 1 each, next to the empty
//             program run the same way);
//           - fills the table with N distinct flows (one TCP SYN each), then
//             sends K more new flows into the full table: are they
//             classified (per-WAN new_flows counters), which flows were
//             evicted (the oldest K, the newest K), how many (entries
//             before + K - entries after: the data path has no eviction
//             counter).
//         Prints one JSON object.
//   slots [--wans N] [--rounds R]
//         Times build_slot_table (and failover_table for one WAN down) for N
//         WANs with mixed weights, as the agent builds it. Prints JSON.
//   watch [--settle-ms MS] [--timeout-ms MS] [--stride N] -- CMD ARGS...
//         Run inside the router namespace while an agent runs there. Finds
//         the running data path through the program attached at tc ingress
//         (never through pins: those could be another namespace's), polls
//         every N-th slot of wanlb_slots (default 64: 1025 lookups), starts
//         CMD, and reports when the sampled slots first and last changed,
//         relative to the moment CMD was started (CLOCK_MONOTONIC), and how
//         many slots differ in the end (full batched read). Prints JSON.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sched.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_frames.h"
#include "datapath.h"
#include "empty_tc.skel.h"
#include "map_io.h"
#include "plan.h"
#include "slot_table.h"
#include "failover.h"
#include "wanlb/dp_shared.h"

namespace {

using wanlb_bench::Frame;
using wanlb_bench::test_run;

double mono_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// The benchmarks' TCP SYN from 10.x.y.z (x.y.z = idx), source port 40000.
Frame tcp_frame(uint32_t idx) { return wanlb_bench::tcp_frame(false, idx, 40000); }

wanlb_flow_key key_of(uint32_t idx) {
  wanlb_flow_key k{};
  k.saddr[0] = htonl(0x0a000000 | (idx & 0xffffff));
  k.daddr[0] = htonl(0x5db8d822);
  k.sport = htons(40000);
  k.dport = htons(443);
  k.proto = IPPROTO_TCP;
  k.family = AF_INET;
  return k;
}

// `memlock:` of a map fd of this process, in bytes (the kernel's own
// accounting of the map's memory, bpf_map_memory_usage()).
uint64_t memlock(int fd) {
  std::ifstream in("/proc/self/fdinfo/" + std::to_string(fd));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("memlock:", 0) == 0) return std::stoull(line.substr(8));
  return 0;
}

// `memlock:` of a map like `like` (type, key, value, flags: the pair table)
// with `entries` entries: what it costs with `sticky: pair`.
uint64_t sticky_pairs_memlock(int like, uint32_t entries) {
  bpf_map_info info{};
  uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(like, &info, &len) != 0) throw std::runtime_error("wanlb_pairs: no map info");
  LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = info.map_flags);
  int fd = bpf_map_create(static_cast<bpf_map_type>(info.type), "wanlb_pairs", info.key_size, info.value_size, entries,
                          &opts);
  if (fd < 0) throw std::runtime_error(std::string("creating a sticky-sized pair table: ") + std::strerror(errno));
  uint64_t m = memlock(fd);
  close(fd);
  return m;
}

// Entries of a hash map (batched lookups; get_next_key walk if unsupported).
uint64_t count_entries(int fd) {
  const uint32_t chunk = 8192;
  std::vector<wanlb_flow_key> keys(chunk);
  std::vector<wanlb_flow> vals(chunk);
  uint64_t total = 0;
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  uint64_t in_batch = 0, out_batch = 0;
  bool first = true;
  for (;;) {
    uint32_t n = chunk;
    int rc = bpf_map_lookup_batch(fd, first ? nullptr : &in_batch, &out_batch, keys.data(), vals.data(), &n, &opts);
    first = false;
    if (rc != 0 && errno != ENOENT) {
      if (total == 0 && (errno == EINVAL || errno == 524 /* ENOTSUPP */ || errno == EOPNOTSUPP)) break;
      throw std::runtime_error(std::string("lookup_batch: ") + std::strerror(errno));
    }
    total += n;
    if (rc != 0) return total;  // ENOENT: the last batch
    in_batch = out_batch;
  }
  total = 0;
  wanlb_flow_key cur{}, next{};
  const wanlb_flow_key* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    total++;
    cur = next;
    prev = &cur;
  }
  return total;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::vector<wanlb_wan> two_wans() {
  std::vector<wanlb_wan> wans(WANLB_MAX_WANS + 1);
  for (uint32_t id = 1; id <= 2; id++) {
    std::snprintf(wans[id].name, sizeof wans[id].name, "wan%u", id);
    wans[id].mark = id << 16;
    wans[id].weight = 1;
    wans[id].flags = WANLB_WAN_F_CONFIGURED | WANLB_WAN_F_UP;
  }
  return wans;
}

int cmd_fill(uint32_t entries, uint32_t extra, uint32_t samples) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(sched_getcpu(), &set);
  sched_setaffinity(0, sizeof set, &set);

  std::vector<std::string> log;
  wanlb::Datapath dp(entries, wanlb::pair_table_size(false, entries), nullptr, &log);
  empty_tc* empty = empty_tc__open_and_load();
  if (!empty) throw std::runtime_error("loading empty_tc");
  const int prog = dp.prog_fd(), eprog = bpf_program__fd(empty->progs.wanlb_tc_empty);
  const int flows_fd = dp.map_fd(wanlb::MapId::Flows), pairs_fd = dp.map_fd(wanlb::MapId::Pairs);
  std::vector<wanlb_wan> wans = two_wans();
  wanlb::write_wans(dp.map_fd(wanlb::MapId::Wans), wans);
  wanlb::write_config(dp.map_fd(wanlb::MapId::Config),
                      wanlb_config{WANLB_CLS_BOTH_ADDRESSES_AND_PORTS, 0x00ff0000, 0x5eed, WANLB_CFG_F_INBOUND, 0, 0});
  std::vector<uint32_t> current;
  wanlb::sync_slots(dp.map_fd(wanlb::MapId::Slots),
                    wanlb::build_slot_table(wanlb::slot_members(wans), WANLB_SLOT_COUNT), &current);

  uint64_t ml_all_before = 0;
  for (size_t i = 0; i < wanlb::kMapCount; i++) ml_all_before += memlock(dp.map_fd(static_cast<wanlb::MapId>(i)));
  const uint64_t ml_flows_before = memlock(flows_fd), ml_pairs_before = memlock(pairs_fd);
  const uint64_t ml_pairs_sticky = sticky_pairs_memlock(pairs_fd, wanlb::pair_table_size(true, entries));

  std::mt19937 rng(1);
  // Established cost over the flows [lo, hi) that are present: `samples`
  // random picks, each run once; the empty program on the same frames.
  auto established_random = [&](const std::vector<uint32_t>& present, double* empty_ns) {
    std::uniform_int_distribution<size_t> pick(0, present.size() - 1);
    std::vector<Frame> frames;
    frames.reserve(samples);
    for (uint32_t s = 0; s < samples; s++) frames.push_back(tcp_frame(present[pick(rng)]));
    uint64_t w = 0, e = 0;
    for (const Frame& f : frames) w += test_run(prog, f, 1);
    for (const Frame& f : frames) e += test_run(eprog, f, 1);
    *empty_ns = static_cast<double>(e) / samples;
    return static_cast<double>(w) / samples;
  };
  auto established_hot = [&](uint32_t idx, double* empty_ns) {
    Frame f = tcp_frame(idx);
    std::vector<double> w, e;
    for (int r = 0; r < 3; r++) {
      w.push_back(test_run(prog, f, 1000000));
      e.push_back(test_run(eprog, f, 1000000));
    }
    *empty_ns = median(e);
    return median(w);
  };
  auto present = [&](uint32_t idx) {
    wanlb_flow_key k = key_of(idx);
    wanlb_flow v{};
    return bpf_map_lookup_elem(flows_fd, &k, &v) == 0 && v.wan_id != 0;
  };

  // 1. 1,024 flows.
  const uint32_t small = 1024;
  for (uint32_t i = 0; i < small; i++) test_run(prog, tcp_frame(i), 1);
  if (!present(0)) throw std::runtime_error("flow 0 not in the table: key layout differs from the data path's");
  std::vector<uint32_t> small_set(small);
  for (uint32_t i = 0; i < small; i++) small_set[i] = i;
  double small_hot_e, small_rand_e;
  double small_hot = established_hot(7, &small_hot_e);
  double small_rand = established_random(small_set, &small_rand_e);

  // 2. Fill to `entries` flows.
  double t0 = mono_ms();
  uint64_t fill_ns = 0;
  for (uint32_t i = small; i < entries; i++) fill_ns += test_run(prog, tcp_frame(i), 1);
  double fill_ms = mono_ms() - t0;
  uint64_t after_fill = count_entries(flows_fd);
  const uint64_t ml_flows_after = memlock(flows_fd), ml_pairs_after = memlock(pairs_fd);
  uint64_t ml_all_after = 0;
  for (size_t i = 0; i < wanlb::kMapCount; i++) ml_all_after += memlock(dp.map_fd(static_cast<wanlb::MapId>(i)));

  // 3. `extra` new flows into the full table.
  std::vector<wanlb_wan_stats> st0 = wanlb::read_wan_stats(dp.map_fd(wanlb::MapId::WanStats));
  std::vector<uint64_t> c0 = wanlb::read_counters(dp.map_fd(wanlb::MapId::Counters));
  uint64_t new_ns = 0;
  for (uint32_t i = entries; i < entries + extra; i++) new_ns += test_run(prog, tcp_frame(i), 1);
  std::vector<wanlb_wan_stats> st1 = wanlb::read_wan_stats(dp.map_fd(wanlb::MapId::WanStats));
  std::vector<uint64_t> c1 = wanlb::read_counters(dp.map_fd(wanlb::MapId::Counters));
  uint64_t after_extra = count_entries(flows_fd);
  uint64_t classified = 0;
  for (uint32_t id = 1; id <= 2; id++) classified += st1[id].new_flows - st0[id].new_flows;
  uint64_t oldest = 0, newest = 0, added = 0;
  for (uint32_t i = 0; i < extra; i++) oldest += present(i);
  for (uint32_t i = entries - extra; i < entries; i++) newest += present(i);
  for (uint32_t i = entries; i < entries + extra; i++) added += present(i);
  // Where in the fill order the survivors are: present share per tenth.
  std::vector<double> tenths;
  for (int t = 0; t < 10; t++) {
    uint32_t lo = static_cast<uint32_t>(uint64_t(entries) * t / 10), hi = static_cast<uint32_t>(uint64_t(entries) * (t + 1) / 10);
    uint64_t n = 0, p = 0;
    for (uint32_t i = lo; i < hi; i += 16, n++) p += present(i);
    tenths.push_back(100.0 * p / n);
  }

  // 4. Established cost with the table full, over flows that are present.
  std::vector<uint32_t> full_set;
  full_set.reserve(entries);
  for (uint32_t i = 0; i < entries + extra; i++)
    if (present(i)) full_set.push_back(i);
  double full_hot_e, full_rand_e;
  double full_hot = established_hot(full_set[full_set.size() / 2], &full_hot_e);
  double full_rand = established_random(full_set, &full_rand_e);
  uint64_t after_lookups = count_entries(flows_fd);

  std::printf("{\"entries\":%u,\"extra\":%u,\"samples\":%u,\n", entries, extra, samples);
  std::printf(" \"memlock\":{\"flows_before\":%llu,\"flows_after\":%llu,\"pairs_before\":%llu,\"pairs_after\":%llu,"
              "\"pairs_entries\":%u,\"pairs_sticky\":%llu,\"all_maps_before\":%llu,\"all_maps_after\":%llu},\n",
              (unsigned long long)ml_flows_before, (unsigned long long)ml_flows_after, (unsigned long long)ml_pairs_before,
              (unsigned long long)ml_pairs_after, dp.max_entries(wanlb::MapId::Pairs), (unsigned long long)ml_pairs_sticky,
              (unsigned long long)ml_all_before, (unsigned long long)ml_all_after);
  std::printf(" \"fill\":{\"ms\":%.0f,\"mean_new_flow_ns\":%.1f,\"entries_after\":%llu},\n", fill_ms,
              double(fill_ns) / (entries - small), (unsigned long long)after_fill);
  std::printf(" \"lookup\":{\"small_hot_ns\":%.1f,\"small_hot_empty_ns\":%.1f,\"small_random_ns\":%.1f,\"small_random_empty_ns\":%.1f,"
              "\"full_hot_ns\":%.1f,\"full_hot_empty_ns\":%.1f,\"full_random_ns\":%.1f,\"full_random_empty_ns\":%.1f,"
              "\"entries_after\":%llu},\n",
              small_hot, small_hot_e, small_rand, small_rand_e, full_hot, full_hot_e, full_rand, full_rand_e,
              (unsigned long long)after_lookups);
  std::printf(" \"full\":{\"new_flows_sent\":%u,\"classified\":%llu,\"no_wan\":%llu,\"mean_new_flow_ns\":%.1f,"
              "\"entries_before\":%llu,\"entries_after\":%llu,\"evictions\":%lld,"
              "\"oldest_present\":%llu,\"newest_present\":%llu,\"added_present\":%llu,\"present_pct_by_tenth\":[",
              extra, (unsigned long long)classified, (unsigned long long)(c1[WANLB_CNT_NO_WAN] - c0[WANLB_CNT_NO_WAN]),
              double(new_ns) / extra, (unsigned long long)after_fill, (unsigned long long)after_extra,
              (long long)(after_fill + extra) - (long long)after_extra, (unsigned long long)oldest,
              (unsigned long long)newest, (unsigned long long)added);
  for (size_t t = 0; t < tenths.size(); t++) std::printf("%s%.1f", t ? "," : "", tenths[t]);
  std::printf("]}}\n");
  empty_tc__destroy(empty);
  return 0;
}

int cmd_slots(uint32_t n, int rounds) {
  std::vector<wanlb_wan> wans(WANLB_MAX_WANS + 1);
  for (uint32_t id = 1; id <= n; id++) {
    std::snprintf(wans[id].name, sizeof wans[id].name, "w%u", id);
    wans[id].mark = id << 16;
    wans[id].weight = 1 + (id * 37) % 10;  // mixed weights 1..10
    wans[id].flags = WANLB_WAN_F_CONFIGURED | WANLB_WAN_F_UP;
  }
  std::vector<wanlb::SlotMember> members = wanlb::slot_members(wans);
  std::vector<double> build, fail;
  std::vector<uint32_t> table;
  for (int r = 0; r < rounds; r++) {
    auto t0 = std::chrono::steady_clock::now();
    table = wanlb::build_slot_table(members, WANLB_SLOT_COUNT);
    auto t1 = std::chrono::steady_clock::now();
    std::vector<wanlb::SlotMember> live(members.begin() + 1, members.end());
    std::vector<uint32_t> ft = wanlb::failover_table(table, live);
    auto t2 = std::chrono::steady_clock::now();
    build.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    fail.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  std::vector<uint64_t> owned(n + 1, 0);
  for (uint32_t w : table) owned[w]++;
  uint64_t lo = ~0ull, hi = 0;
  for (uint32_t id = 1; id <= n; id++) lo = std::min(lo, owned[id]), hi = std::max(hi, owned[id]);
  std::printf("{\"wans\":%u,\"rounds\":%d,\"build_ms_median\":%.2f,\"build_ms_max\":%.2f,\"failover_ms_median\":%.2f,"
              "\"min_slots\":%llu,\"max_slots\":%llu}\n",
              n, rounds, median(build), *std::max_element(build.begin(), build.end()), median(fail),
              (unsigned long long)lo, (unsigned long long)hi);
  return 0;
}

bool read_slots_batch(int fd, std::vector<uint32_t>* out) {
  static std::vector<uint32_t> keys;
  if (keys.size() != WANLB_SLOT_COUNT) keys.resize(WANLB_SLOT_COUNT);
  out->resize(WANLB_SLOT_COUNT);
  LIBBPF_OPTS(bpf_map_batch_opts, opts);
  uint32_t in_b = 0, out_b = 0, done = 0;
  bool first = true;
  while (done < WANLB_SLOT_COUNT) {
    uint32_t n = WANLB_SLOT_COUNT - done;
    int rc = bpf_map_lookup_batch(fd, first ? nullptr : &in_b, &out_b, keys.data() + done, out->data() + done, &n, &opts);
    first = false;
    done += n;
    if (rc != 0) {
      if (errno == ENOENT) break;
      return false;
    }
    in_b = out_b;
  }
  return done == WANLB_SLOT_COUNT;
}

// Every `stride`-th slot, one lookup each: a failover or weight change moves
// thousands of slots at once (one batched update), so a sample of 1/64 of
// the table sees it, at a fraction of the cost of reading all 65537
// entries (a full batched read takes tens of ms on a busy VM).
void read_sample(int fd, uint32_t stride, std::vector<uint32_t>* out) {
  out->resize(WANLB_SLOT_COUNT / stride + 1);
  for (uint32_t i = 0, slot = 0; slot < WANLB_SLOT_COUNT; slot += stride, i++) bpf_map_lookup_elem(fd, &slot, &(*out)[i]);
}

int cmd_watch(double settle_ms, double timeout_ms, uint32_t stride, char** cmd) {
  wanlb::MapFds maps;
  std::string source;
  // A directory that cannot exist: never pins (they could be another
  // namespace's data path), always the program attached in this namespace.
  if (!wanlb::open_running_maps("/nonexistent/wanlb-bench", &maps, &source))
    throw std::runtime_error("no wanlb program attached in this network namespace");
  int fd = maps[wanlb::MapId::Slots];
  std::vector<uint32_t> before, after, cur, last;
  if (!read_slots_batch(fd, &before)) throw std::runtime_error(std::string("reading wanlb_slots: ") + std::strerror(errno));
  // Poll period, measured before the trigger.
  double p0 = mono_ms();
  for (int i = 0; i < 50; i++) read_sample(fd, stride, &cur);
  double poll_ms = (mono_ms() - p0) / 50;
  last = cur;

  double t0 = mono_ms();
  pid_t pid = fork();
  if (pid == 0) {
    // The trigger's output must not mix with our JSON.
    if (freopen("/dev/null", "w", stdout) == nullptr) _exit(126);
    execvp(cmd[0], cmd);
    _exit(127);
  }
  double first_change = -1, last_change = -1, trigger_done = -1;
  int status = 0;
  size_t polls = 0;
  for (;;) {
    read_sample(fd, stride, &cur);
    polls++;
    double tr = mono_ms() - t0;
    if (cur != last) {
      if (first_change < 0) first_change = tr;
      last_change = tr;
      last = cur;
    }
    if (trigger_done < 0 && waitpid(pid, &status, WNOHANG) == pid) trigger_done = mono_ms() - t0;
    double now = mono_ms() - t0;
    if (trigger_done >= 0 && last_change >= 0 && now - last_change > settle_ms) break;
    if (now > timeout_ms) break;
  }
  if (trigger_done < 0) {
    waitpid(pid, &status, 0);
    trigger_done = mono_ms() - t0;
  }
  if (!read_slots_batch(fd, &after)) throw std::runtime_error("reading wanlb_slots failed");
  size_t changed = 0;
  for (size_t i = 0; i < before.size(); i++) changed += before[i] != after[i];
  std::printf("{\"source\":\"%s\",\"stride\":%u,\"poll_ms\":%.3f,\"polls\":%zu,\"first_change_ms\":%.2f,"
              "\"last_change_ms\":%.2f,\"trigger_exit_ms\":%.2f,\"trigger_status\":%d,\"slots_changed\":%zu}\n",
              source.c_str(), stride, poll_ms, polls, first_change, last_change, trigger_done,
              WIFEXITED(status) ? WEXITSTATUS(status) : -1, changed);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s fill|slots|watch ... (see bench/scale_tool.cpp)\n", argv[0]);
    return 2;
  }
  if (geteuid() != 0) {
    std::printf("wanlb-bench-scale: skipped, needs root\n");
    return 0;
  }
  std::string sub = argv[1];
  try {
    if (sub == "fill") {
      uint32_t entries = 1048576, extra = 65536, samples = 100000;
      for (int i = 2; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        uint32_t v = static_cast<uint32_t>(std::stoul(argv[i + 1]));
        if (a == "--entries") entries = v;
        else if (a == "--extra") extra = v;
        else if (a == "--samples") samples = v;
        else throw std::invalid_argument("unknown argument " + a);
      }
      if (entries < 4096 || extra < 1 || extra > entries / 2 || entries + extra > 0xffffff)
        throw std::invalid_argument("need 4096 <= entries, 1 <= extra <= entries/2");
      return cmd_fill(entries, extra, samples);
    }
    if (sub == "slots") {
      uint32_t n = 64;
      int rounds = 5;
      for (int i = 2; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--wans") n = static_cast<uint32_t>(std::stoul(argv[i + 1]));
        else if (a == "--rounds") rounds = std::stoi(argv[i + 1]);
        else throw std::invalid_argument("unknown argument " + a);
      }
      if (n < 2 || n > WANLB_MAX_WANS) throw std::invalid_argument("--wans must be 2..64");
      return cmd_slots(n, std::max(1, rounds));
    }
    if (sub == "watch") {
      double settle = 300, timeout = 10000;
      uint32_t stride = 64;
      int i = 2;
      for (; i < argc && std::string(argv[i]) != "--"; i += 2) {
        std::string a = argv[i];
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        if (a == "--settle-ms") settle = std::stod(argv[i + 1]);
        else if (a == "--timeout-ms") timeout = std::stod(argv[i + 1]);
        else if (a == "--stride") stride = static_cast<uint32_t>(std::stoul(argv[i + 1]));
        else throw std::invalid_argument("unknown argument " + a);
      }
      if (i >= argc - 1) throw std::invalid_argument("watch needs -- CMD...");
      if (stride < 1 || stride > 4096) throw std::invalid_argument("--stride must be 1..4096");
      return cmd_watch(settle, timeout, stride, argv + i + 1);
    }
    throw std::invalid_argument("unknown subcommand " + sub);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "wanlb-bench-scale: %s\n", e.what());
    return 1;
  }
}
