#include "agent.h"

#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <grp.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <chrono>
#include <cstring>
#include <optional>
#include <spdlog/spdlog.h>

#include "bpffs.h"
#include "commands.h"
#include "control.h"
#include "lan_match.h"
#include "metrics.h"
#include "reload.h"
#include "sd_notify.h"
#include "connected.h"
#include "conntrack.h"
#include "datapath.h"
#include "failover.h"
#include "health.h"
#include "hooks.h"
#include "map_io.h"
#include "nft.h"
#include "plan.h"
#include "poll_time.h"
#include "policy_maps.h"
#include "prober.h"
#include "privileges.h"
#include "routing.h"
#include "state_store.h"
#include "sysctl.h"

namespace wanlb {

namespace {

constexpr uint64_t kNsPerMs = 1000000ULL;
constexpr int kResyncMs = 5000;    // safety-net resync of routes and bypass
constexpr int kMaxSleepMs = 20;    // poll granularity while probes are in flight

int ifindex_of(const std::string& name) { return static_cast<int>(if_nametoindex(name.c_str())); }

// SIGINT/SIGTERM stop the agent, SIGHUP reloads: read through a signalfd.
const sigset_t& control_signals() {
  static const sigset_t set = [] {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGINT);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGHUP);
    return s;
  }();
  return set;
}

uint64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}
uint64_t mono_ns() { return clock_ns(CLOCK_MONOTONIC); }
uint64_t real_ms() { return clock_ns(CLOCK_REALTIME) / kNsPerMs; }

// Steady-clock laps of one operation, logged as one debug line when it
// ends: "reload timing: load+check 0.43 ms, init_wans 0.28 ms, ...".
class Laps {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Laps(std::string what) : what_(std::move(what)), start_(Clock::now()), last_(start_) {}
  ~Laps() {
    if (!text_.empty()) spdlog::debug("{} timing: {}", what_, text_);
  }
  Laps(const Laps&) = delete;
  Laps& operator=(const Laps&) = delete;
  void lap(const char* phase) {
    Clock::time_point now = Clock::now();
    text_ += fmt::format("{}{} {:.2f} ms", text_.empty() ? "" : ", ", phase, ms(last_, now));
    last_ = now;
    if (std::strcmp(phase, kSlotsLap) == 0) slots_ms_ = ms(start_, now);
  }
  double total_ms() const { return ms(start_, Clock::now()); }
  double slots_ms() const { return slots_ms_; }  // when the lap kSlotsLap ended; -1 if none did

  static constexpr const char* kSlotsLap = "config+wans+slots";

 private:
  static double ms(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
  }
  std::string what_;
  std::string text_;
  Clock::time_point start_, last_;
  double slots_ms_ = -1;
};

template <typename T>
T random_value() {
  T v{};
  if (getrandom(&v, sizeof(v), 0) != sizeof(v)) v = static_cast<T>(mono_ns());
  return v;
}

// The kernel settings a router needs; every change is logged and recorded.
void apply_sysctls(const Config& cfg, AppliedState* state) {
  auto set = [&](const std::string& key, const std::string& value) {
    if (auto change = sysctl_set(key, value)) {
      spdlog::info("sysctl {}: {} -> {}", change->key, change->old_value, change->new_value);
      record_sysctl(state, *change);
    }
  };
  set("net/ipv4/ip_forward", "1");
  // IPv6 forwarding makes the kernel ignore router advertisements on WANs
  // that rely on them, so it is only switched on for IPv6 gateways.
  for (const auto& w : cfg.wans)
    if ((w.has_gateway && w.gateway.family == AF_INET6) || w.has_gateway6 || w.gateway6_auto) {
      set("net/ipv6/conf/all/forwarding", "1");
      break;
    }
  // Replies of a connection may arrive on a WAN that is not the main
  // table's route back to their source: strict reverse-path filtering would
  // drop them. The effective value is max(all, interface), so loose (2) on
  // the WAN beats a strict (1) "all"; 0 (off) is left alone.
  int all = std::stoi(sysctl_get("net/ipv4/conf/all/rp_filter"));
  for (const auto& w : cfg.wans) {
    std::string key = "net/ipv4/conf/" + w.interface + "/rp_filter";
    if (std::max(all, std::stoi(sysctl_get(key))) == 1) set(key, "2");
  }
}

// One WAN at run time: what the config says plus what the system and the
// prober tell us now.
struct WanRuntime {
  const WanConfig* cfg = nullptr;
  int ifindex = 0;
  std::optional<IpAddr> gw4, gw6;  // static, or resolved for `gateway: auto` / `gateway6: auto`
  std::unique_ptr<HealthMachine> health;
  uint64_t since_real_ms = 0;  // wall clock of the last state change, for status
  std::string reason;
  uint64_t next_round_ns = 0;
  std::vector<IpAddr> addrs;  // last known addresses: the NAT source to flush on failure
  bool drained = false;       // `wanlb drain`: no new connections

  bool probes() const { return cfg->probe.method != ProbeMethod::None; }
  bool auto_gateway() const { return cfg->gateway_auto || cfg->gateway6_auto; }
  bool has_gateway() const { return gw4 || gw6; }
};

class Agent {
 public:
  Agent(const Config& cfg, std::string config_path)
      : cfg_(cfg),
        config_path_(std::move(config_path)),
        state_path_(state_path()),
        planner_(WANLB_SLOT_COUNT),
        hooks_(std::make_unique<HookRunner>(cfg.hook)) {}
  void start();
  void loop();
  void stop();

 private:
  void init_wans(const std::vector<wanlb_wan>& adopted, const std::vector<WanRuntime>& previous = {});
  void sync_lan();
  void start_services();
  nlohmann::json handle(const nlohmann::json& request);
  std::string reload();
  void apply_reload(const Config& old_cfg, const std::vector<WanRuntime>& previous, Laps* laps);
  void apply_config(bool policies, Laps* laps);
  std::string drain(const std::string& name, bool drain);
  nlohmann::json status();
  wanlb_wan wan_entry(const WanRuntime& w) const;
  void apply_wans();
  void sync_bypass_maps();
  std::vector<WanRouteState> route_states(const std::vector<WanRuntime>& wans) const;
  void sync_routing(const Config* leaving_cfg = nullptr, const std::vector<WanRuntime>* leaving = nullptr);
  void apply_nft(const Config* leaving = nullptr);
  void refresh_links(uint64_t now_ms);
  void refresh_gateways(uint64_t now_ms);
  void configure_prober();
  void send_due_rounds(uint64_t now_ns);
  void collect_rounds(uint64_t now_ns);
  void order_policies_by_rtt();
  void note_change(WanRuntime& w, WanState old_state);
  int poll_timeout_ms(uint64_t now_ns) const;

  Config cfg_;
  std::string config_path_;
  std::string state_path_;
  AppliedState state_;
  std::unique_ptr<Datapath> dp_;
  std::unique_ptr<Routing> routing_;
  std::unique_ptr<Prober> prober_;
  std::unique_ptr<Nft> nft_;
  std::vector<WanRuntime> wans_;
  SlotPlanner planner_;
  std::vector<uint32_t> applied_slots_;  // what wanlb_slots holds
  std::unique_ptr<HookRunner> hooks_;
  bool all_down_logged_ = false;
  std::map<std::string, int> lan_attached_;  // LAN interface -> ifindex we attached to
  std::unique_ptr<ControlServer> control_;
  std::unique_ptr<MetricsServer> metrics_;
  std::mutex counters_mu_;  // the metrics thread reads counters_
  AgentCounters counters_;
  std::vector<std::vector<uint32_t>> policy_order_;  // WAN order written for `order: lowest-rtt` policies
  std::string applied_nft_;  // the ruleset last applied (libnftables is only called when it changes)
  bool maps_deferred_ = false;  // during a reload's set-up: a state change is written by the reload itself
};

void Agent::start() {
  state_ = load_state(state_path_);
  if (agent_alive(state_.agent_pid) && state_.agent_pid != getpid())
    throw std::runtime_error("another wanlb agent (pid " + std::to_string(state_.agent_pid) +
                             ") runs in this network namespace");
  if (std::string m = ensure_bpffs(cfg_.bpffs_dir); !m.empty()) spdlog::info("{}", m);

  MapFds running;
  std::string source;
  std::vector<std::string> log;
  bool adopt = open_running_maps(cfg_.bpffs_dir, &running, &source);
  uint32_t seed = 0;
  std::vector<wanlb_wan> adopted_wans;
  if (adopt) {
    spdlog::info("adopting the running data path ({})", source);
    if (auto old = read_config(running[MapId::Config])) seed = old->hash_seed;
    adopted_wans = read_wans(running[MapId::Wans]);
    // A WAN keeps the id the running data path knows it by, even if the
    // config lists WANs in another order now.
    Config previous = cfg_;
    previous.wans.clear();
    for (uint32_t id = 1; id < adopted_wans.size(); id++) {
      if (!(adopted_wans[id].flags & WANLB_WAN_F_CONFIGURED)) continue;
      WanConfig w;
      w.name = std::string(adopted_wans[id].name, strnlen(adopted_wans[id].name, WANLB_WAN_NAME_LEN));
      w.id = id;
      previous.wans.push_back(w);
    }
    keep_wan_ids(previous, &cfg_);
  }
  if (seed == 0) seed = random_value<uint32_t>();
  dp_ = std::make_unique<Datapath>(cfg_.flow_table_size, pair_table_size(cfg_.sticky_pair, cfg_.flow_table_size),
                                   adopt ? &running : nullptr, &log);
  for (const auto& l : log) spdlog::info("{}", l);
  // Load the XDP program now, while loading is still allowed (capabilities
  // are dropped after set-up): an XDP-mode LAN interface may appear later.
  dp_->load_xdp(true);

  // Fill every map before the first packet can reach the program; the
  // policies before the config entry that says how many there are.
  auto started = std::chrono::steady_clock::now();
  PolicyApplyResult pol = apply_policies(policy_map_fds(*dp_), cfg_.policies);
  if (!cfg_.policies.empty())
    spdlog::info("policies: {} loaded ({} prefix entries written, {} removed) in {} ms", cfg_.policies.size(),
                 pol.trie_updates, pol.trie_deletes,
                 std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
                     .count());
  write_config(dp_->map_fd(MapId::Config), plan_dp_config(cfg_, seed));
  init_wans(adopted_wans);
  apply_wans();
  sync_bypass_maps();

  routing_ = std::make_unique<Routing>(static_cast<uint8_t>(cfg_.route_protocol));
  sync_routing();
  apply_nft();
  apply_sysctls(cfg_, &state_);
  prober_ = std::make_unique<Prober>(random_value<uint64_t>());
  configure_prober();

  dp_->pin(cfg_.bpffs_dir);
  state_.bpffs_dir = cfg_.bpffs_dir;
  state_.route_protocol = cfg_.route_protocol;
  state_.agent_pid = getpid();
  sync_lan();
  save_state(state_path_, state_);
  start_services();
  drop_privileges_after_setup();  // keeps CAP_NET_ADMIN, CAP_NET_RAW (docs/operations.md "Least privilege")
  std::string ready = std::to_string(cfg_.wans.size()) + " WANs, classifier " + classifier_name(cfg_.classifier) +
                      ", pins under " + cfg_.bpffs_dir;
  spdlog::info("ready: {}", ready);
  notify_ready(ready);
}

// Attach to every interface the `lan` list names or matches (patterns for
// pod interfaces that come and go); forget interfaces that went away, and
// detach from those the config no longer names.
void Agent::sync_lan() {
  std::vector<std::string> want = match_lan_interfaces(cfg_.lan, interface_names());
  for (auto it = lan_attached_.begin(); it != lan_attached_.end();) {
    int now = ifindex_of(it->first);
    bool wanted = std::find(want.begin(), want.end(), it->first) != want.end();
    if (now == it->second && wanted) {
      ++it;
      continue;
    }
    if (now == it->second) {
      detach(now);  // still there, no longer ours to balance
      spdlog::info("detached {} from {}", kProgName, it->first);
    } else {
      spdlog::info("LAN interface {} went away", it->first);
    }
    it = lan_attached_.erase(it);
  }
  bool changed_state = false;
  for (const auto& lan : want) {
    int ifindex = ifindex_of(lan);
    if (ifindex == 0 || lan_attached_.count(lan)) continue;
    auto& created = state_.clsact_created;
    if (dp_->attach(ifindex) && std::find(created.begin(), created.end(), lan) == created.end()) {
      created.push_back(lan);
      changed_state = true;
    }
    lan_attached_[lan] = ifindex;
    spdlog::info("attached {} to tc ingress of {}", kProgName, lan);
  }
  // The XDP fast path where the LAN entry says `mode: xdp`, after tc (the
  // tc program finishes what XDP passes up), detached where it no longer
  // does. Checked on every sync: a reload that changes a mode, and a
  // previous agent's XDP program, are followed. A failure leaves the
  // interface in tc mode (still balanced) and is logged once.
  for (const auto& [lan, ifindex] : lan_attached_) {
    std::string msg;
    bool ok = dp_->sync_xdp(ifindex, lan_mode_of(cfg_, lan) == LanMode::Xdp, &msg);
    if (msg.empty()) continue;
    if (ok) spdlog::info("{}: {}", lan, msg);
    else spdlog::warn("{}: XDP fast path off: {}", lan, msg);
  }
  std::vector<std::string> names;
  for (const auto& [name, idx] : lan_attached_) names.push_back(name);
  if (names != state_.lan || changed_state) {
    state_.lan = names;
    save_state(state_path_, state_);
  }
}

// The control socket (always) and the metrics endpoint (when configured).
void Agent::start_services() {
  gid_t group = static_cast<gid_t>(-1);
  if (!cfg_.control_group.empty()) {
    struct group* g = getgrnam(cfg_.control_group.c_str());
    if (!g) throw std::runtime_error("control_group '" + cfg_.control_group + "' does not exist");
    group = g->gr_gid;
  }
  if (!control_)
    control_ = std::make_unique<ControlServer>(control_socket_path(), group,
                                               [this](const nlohmann::json& r) { return handle(r); });
  metrics_.reset();
  if (cfg_.metrics.empty()) return;
  // The scrape thread reads the maps through its own descriptors and the
  // agent's counters under the mutex; nothing else is shared.
  auto maps = std::make_shared<MapFds>(dp_->dup_maps());
  metrics_ = std::make_unique<MetricsServer>(cfg_.metrics, [this, maps]() {
    nlohmann::json st = status_json(*maps, "agent");
    std::lock_guard<std::mutex> lock(counters_mu_);
    return render_metrics(st, counters_);
  });
  spdlog::info("metrics on http://{}/metrics", cfg_.metrics);
}

bool same_probe(const ProbeConfig& a, const ProbeConfig& b) {
  return a.method == b.method && a.targets == b.targets && a.interval_ms == b.interval_ms &&
         a.timeout_ms == b.timeout_ms && a.down == b.down && a.up == b.up && a.reliability == b.reliability &&
         a.max_loss_ppm == b.max_loss_ppm && a.max_rtt_ms == b.max_rtt_ms &&
         a.quality_window_ms == b.quality_window_ms;
}

// Health starts from what a previous agent left in the map (a restart must
// not flap anything), or from the runtime of the same WAN before a reload;
// a WAN seen for the first time starts up, so that a fresh start does not
// hold traffic back while the first rounds run.
void Agent::init_wans(const std::vector<wanlb_wan>& adopted, const std::vector<WanRuntime>& previous) {
  uint64_t now_ms = mono_ns() / kNsPerMs;
  wans_.clear();
  wans_.resize(cfg_.wans.size());
  for (size_t i = 0; i < cfg_.wans.size(); i++) {
    WanRuntime& w = wans_[i];
    w.cfg = &cfg_.wans[i];
    if (w.cfg->has_gateway) (w.cfg->gateway.family == AF_INET ? w.gw4 : w.gw6) = w.cfg->gateway;
    if (w.cfg->has_gateway6) w.gw6 = w.cfg->gateway6;
    WanState initial = WanState::Up;
    w.since_real_ms = real_ms();
    w.reason = "agent started";
    // Stagger the first rounds so WANs do not probe in lockstep.
    w.next_round_ns = mono_ns() + i * (w.cfg->probe.interval_ms * kNsPerMs) / cfg_.wans.size();
    for (const auto& old : adopted) {
      if (!(old.flags & WANLB_WAN_F_CONFIGURED) || w.cfg->name != old.name) continue;
      initial = static_cast<WanState>(old.state);
      w.since_real_ms = old.since_ms;
      w.reason = std::string(old.reason, strnlen(old.reason, sizeof(old.reason)));
      w.drained = old.flags & WANLB_WAN_F_DRAINED;
    }
    // Copied, not moved: a reload that fails puts `previous` back.
    for (const auto& old : previous) {
      if (old.cfg->name != w.cfg->name) continue;
      initial = old.health->state();
      w.since_real_ms = old.since_real_ms;
      w.reason = old.reason;
      w.drained = old.drained;
      w.addrs = old.addrs;
      if (w.cfg->gateway_auto) w.gw4 = old.gw4;
      if (w.cfg->gateway6_auto) w.gw6 = old.gw6;
      if (same_probe(old.cfg->probe, w.cfg->probe)) {  // keep counters and the quality window
        w.health = std::make_unique<HealthMachine>(*old.health);
        w.next_round_ns = old.next_round_ns;
      }
    }
    if (!w.health) w.health = std::make_unique<HealthMachine>(w.cfg->probe, initial, now_ms);
  }
  refresh_links(now_ms);
  refresh_gateways(now_ms);
}

wanlb_wan Agent::wan_entry(const WanRuntime& w) const {
  wanlb_wan e{};
  std::snprintf(e.name, sizeof(e.name), "%s", w.cfg->name.c_str());
  if (const std::optional<IpAddr>& gw = w.gw4 ? w.gw4 : w.gw6) {
    std::memcpy(e.gateway, gw->bytes.data(), gw->family == AF_INET ? 4 : 16);
    e.gw_family = static_cast<uint8_t>(gw->family);
  }
  e.ifindex = static_cast<uint32_t>(w.ifindex);
  e.mark = w.cfg->mark;
  e.table = w.cfg->table;
  e.weight = w.cfg->weight;
  e.tier = static_cast<uint8_t>(w.cfg->tier);
  WanState s = w.health->state();
  e.flags = WANLB_WAN_F_CONFIGURED | (keeps_flows(s) ? WANLB_WAN_F_UP : 0) | (w.drained ? WANLB_WAN_F_DRAINED : 0) |
            wan_nat_flags(*w.cfg);
  e.state = static_cast<uint32_t>(s);
  e.rtt_us = w.health->rtt_us();
  e.loss_ppm = w.health->loss_ppm();
  e.since_ms = w.since_real_ms;
  std::snprintf(e.reason, sizeof(e.reason), "%s", w.reason.c_str());
  return e;
}

// Write WAN entries and slots so that no packet ever reads a slot naming a
// WAN whose entry is not up: first every WAN that is up before or after
// counts as up, then the slots move, then WANs that went down lose the flag.
void Agent::apply_wans() {
  int fd = dp_->map_fd(MapId::Wans);
  std::vector<wanlb_wan> have = read_wans(fd);
  std::vector<wanlb_wan> want(WANLB_MAX_WANS + 1);
  std::vector<WanView> views;
  for (const auto& w : wans_) {
    want[w.cfg->id] = wan_entry(w);
    views.push_back({w.cfg->id, w.cfg->name, w.cfg->weight, w.cfg->tier, w.health->state(), w.drained});
  }
  std::vector<wanlb_wan> bridge = want;
  for (uint32_t id = 1; id < bridge.size(); id++)
    if ((have[id].flags & WANLB_WAN_F_UP) && (have[id].flags & WANLB_WAN_F_CONFIGURED) &&
        std::strncmp(have[id].name, bridge[id].name, WANLB_WAN_NAME_LEN) == 0)
      bridge[id].flags |= WANLB_WAN_F_UP;
  write_wans(fd, bridge);
  auto t0 = std::chrono::steady_clock::now();
  std::vector<uint32_t> table = planner_.table(views);
  auto t1 = std::chrono::steady_clock::now();
  size_t changed = sync_slots(dp_->map_fd(MapId::Slots), table, &applied_slots_, dp_->slots_mapped());
  auto t2 = std::chrono::steady_clock::now();
  write_wans(fd, want);
  using ms = std::chrono::duration<double, std::milli>;
  if (changed)
    spdlog::info("slot table: {} of {} slots changed (planned in {:.2f} ms, written in {:.2f} ms)", changed,
                 WANLB_SLOT_COUNT, ms(t1 - t0).count(), ms(t2 - t1).count());

  bool all_down = active_set(views).tier == 0;
  if (all_down && !all_down_logged_)
    spdlog::warn("no WAN can carry traffic: new connections follow the main table until one comes back");
  all_down_logged_ = all_down;
}

void Agent::sync_bypass_maps() {
  ConnectedSet connected = read_connected();
  std::vector<BypassEntry> want = plan_bypass(cfg_, connected);
  size_t changes = sync_bypass(dp_->map_fd(MapId::Bypass4), dp_->map_fd(MapId::Bypass6), want);
  if (changes == 0) return;
  spdlog::info("bypass: {} prefixes ({} changes)", want.size(), changes);
  // Bypass is decided when a flow starts; flows to a destination that has
  // just become bypassed (a new connected network) are dropped from the
  // table so their next packet takes the main table.
  size_t purged = delete_flows_if(dp_->map_fd(MapId::Flows), [&](const FlowEntry& f) {
    for (const auto& b : want)
      if (prefix_contains(b.prefix, f.key.family, reinterpret_cast<const uint8_t*>(f.key.daddr))) return true;
    return false;
  });
  if (purged) spdlog::info("bypass: {} flows to newly bypassed destinations released", purged);
}

std::vector<WanRouteState> Agent::route_states(const std::vector<WanRuntime>& wans) const {
  std::vector<WanView> views;
  for (const auto& w : wans)
    views.push_back({w.cfg->id, w.cfg->name, w.cfg->weight, w.cfg->tier, w.health->state(), w.drained});
  ActiveSet active = active_set(views);
  std::vector<WanRouteState> states;
  for (const auto& w : wans) {
    bool live = std::any_of(active.live.begin(), active.live.end(), [&](const SlotMember& m) { return m.id == w.cfg->id; });
    states.push_back({w.cfg, w.ifindex, w.gw4, w.gw6, w.addrs, live});
  }
  return states;
}

// Rules and routes for the WANs as they are now (see plan_routes); during a
// reload, also those of the WANs being replaced (`leaving`, planned with
// the config they came from) until nothing points at them any more.
void Agent::sync_routing(const Config* leaving_cfg, const std::vector<WanRuntime>* leaving) {
  RoutingPlan plan = plan_routes(cfg_, route_states(wans_));
  if (leaving) plan = merge_routing(std::move(plan), plan_routes(*leaving_cfg, route_states(*leaving)));
  for (const auto& line : routing_->reconcile(plan)) spdlog::info("{}", line);
}

// NAT per WAN and the conntrack tag that pins inbound connections to their
// WAN, in wanlb's own nftables table (replaced as a whole, atomically; only
// when the ruleset changes). During a reload, the WANs of the config being
// replaced (`leaving`) keep their entries until nothing points at them.
void Agent::apply_nft(const Config* leaving) {
  std::vector<NftWan> wans;
  for (const auto& w : cfg_.wans) wans.push_back({w.interface, w.mark, w.nat, w.nat6});
  // A leaving WAN whose interface is still in the config is already there
  // (the tagging map has one entry per interface).
  if (leaving)
    for (const auto& w : leaving->wans)
      if (std::none_of(wans.begin(), wans.end(), [&](const NftWan& n) { return n.ifname == w.interface; }))
        wans.push_back({w.interface, w.mark, w.nat, w.nat6});
  std::string ruleset = render_nft_ruleset(wans, cfg_.mark_mask, cfg_.inbound_conntrack);
  if (ruleset == applied_nft_) return;
  if (!nft_) nft_ = std::make_unique<Nft>();
  nft_->apply(ruleset);
  applied_nft_ = ruleset;
  spdlog::info("nftables: table inet {} applied (NAT{} for {} WANs{})", kNftTable,
               cfg_.inbound_conntrack ? " and inbound tagging" : "", cfg_.wans.size(),
               leaving ? ", and those of the previous config until the slots have moved" : "");
}

// Carrier and presence of every WAN interface; remember its addresses
// while it has them (they are the NAT source to flush when it fails).
void Agent::refresh_links(uint64_t now_ms) {
  for (auto& w : wans_) {
    w.ifindex = ifindex_of(w.cfg->interface);
    bool carrier = w.ifindex != 0 && interface_carrier(w.cfg->interface);
    // Keep the last known addresses when they vanish: they are the NAT
    // source whose conntrack entries a failure must flush.
    if (w.ifindex != 0) {
      std::vector<IpAddr> addrs = interface_addresses(w.ifindex);
      if (!addrs.empty()) w.addrs = addrs;
    }
    WanState old = w.health->state();
    if (w.health->on_link(carrier, now_ms)) note_change(w, old);
  }
}

void Agent::refresh_gateways(uint64_t now_ms) {
  for (auto& w : wans_) {
    if (!w.auto_gateway()) continue;
    bool had = w.has_gateway();
    auto follow = [&](bool is_auto, int family, std::optional<IpAddr>* gw) {
      if (!is_auto) return;
      std::optional<IpAddr> now = w.ifindex ? main_default_gateway(w.ifindex, family) : std::nullopt;
      if (now == *gw) return;
      spdlog::info("WAN {}: gateway {} -> {} (main table default route on {})", w.cfg->name,
                   *gw ? (*gw)->str() : "none", now ? now->str() : "none", w.cfg->interface);
      *gw = now;
    };
    follow(w.cfg->gateway_auto, AF_INET, &w.gw4);
    follow(w.cfg->gateway6_auto, AF_INET6, &w.gw6);
    if (had == w.has_gateway()) continue;
    WanState old = w.health->state();
    if (w.health->on_gateway(w.has_gateway(), now_ms)) note_change(w, old);
  }
}

void Agent::configure_prober() {
  std::vector<ProbeSpec> specs;
  for (const auto& w : wans_) {
    if (!w.probes() || w.ifindex == 0) continue;
    ProbeSpec spec{w.cfg->id, w.cfg->interface, w.cfg->mark, w.cfg->probe.method, {}, w.cfg->probe.timeout_ms};
    bool complete = true;
    for (const auto& t : w.cfg->probe.targets) {
      if (!t.is_gateway) {
        spec.targets.push_back(t.addr);
        continue;
      }
      // "gateway" means every gateway the WAN has (IPv4 and IPv6); ARP only IPv4.
      if (w.gw4) spec.targets.push_back(*w.gw4);
      if (w.gw6 && w.cfg->probe.method != ProbeMethod::Arp) spec.targets.push_back(*w.gw6);
      if (!w.has_gateway()) complete = false;  // auto gateway not known yet: the WAN is down anyway
    }
    if (complete) specs.push_back(spec);
  }
  prober_->configure(specs);
}

void Agent::send_due_rounds(uint64_t now_ns) {
  for (auto& w : wans_) {
    if (!w.probes() || now_ns < w.next_round_ns) continue;
    uint64_t interval = w.cfg->probe.interval_ms * kNsPerMs;
    // Keep the cadence; after a stall, restart it from now instead of bursting.
    w.next_round_ns = now_ns - w.next_round_ns > interval ? now_ns + interval : w.next_round_ns + interval;
    if (w.health->link_ok() && w.ifindex != 0) prober_->send_round(w.cfg->id, now_ns);
  }
}

void Agent::collect_rounds(uint64_t now_ns) {
  for (const auto& done : prober_->collect(now_ns)) {
    for (auto& w : wans_) {
      if (w.cfg->id != done.wan_id) continue;
      spdlog::debug("WAN {}: probe round {}/{} answered", w.cfg->name, done.result.answered, done.result.sent);
      WanState old = w.health->state();
      if (w.health->on_round(done.result, now_ns / kNsPerMs)) note_change(w, old);
      else write_wan(dp_->map_fd(MapId::Wans), w.cfg->id, wan_entry(w));  // fresh RTT and loss for status
    }
  }
  order_policies_by_rtt();
}

// `order: lowest-rtt` policies list their WANs fastest first (by the probes'
// mean RTT; a WAN without a measurement goes last, ties keep the configured
// order). Rewritten only when some order changes.
void Agent::order_policies_by_rtt() {
  std::vector<std::vector<uint32_t>> order(cfg_.policies.size());
  bool any = false;
  for (size_t i = 0; i < cfg_.policies.size(); i++) {
    const PolicyConfig& p = cfg_.policies[i];
    if (!p.order_by_rtt) continue;
    any = true;
    order[i] = p.wan_ids;
    auto rtt = [&](uint32_t id) {
      for (const auto& w : wans_)
        if (w.cfg->id == id && w.health->rtt_us() > 0) return w.health->rtt_us();
      return UINT32_MAX;
    };
    std::stable_sort(order[i].begin(), order[i].end(), [&](uint32_t a, uint32_t b) { return rtt(a) < rtt(b); });
  }
  if (!any || order == policy_order_) return;
  policy_order_ = order;
  write_policy_entries(policy_map_fds(*dp_).policies, policy_entries(cfg_.policies, order));
}

// A WAN changed state: maps first (traffic moves at once), then the
// conntrack flush, the log line and the hook.
void Agent::note_change(WanRuntime& w, WanState old_state) {
  WanState now = w.health->state();
  w.since_real_ms = real_ms();
  w.reason = w.health->reason();
  {
    std::lock_guard<std::mutex> lock(counters_mu_);
    counters_.state_changes_total++;
    counters_.last_change_unix_ms = w.since_real_ms;
  }
  spdlog::info("WAN {}: {} -> {} ({})", w.cfg->name, state_name(old_state), state_name(now), w.reason);
  if (dp_ && !maps_deferred_) apply_wans();
  if (routing_ && !maps_deferred_) {
    try {
      sync_routing();  // the router's own multipath default follows the live WANs
    } catch (const std::exception& e) {
      spdlog::warn("WAN {}: routing update failed (will retry): {}", w.cfg->name, e.what());
    }
  }
  if (keeps_flows(old_state) && !keeps_flows(now) && !w.addrs.empty()) {
    try {
      size_t n = flush_conntrack_nated_to(w.addrs);
      if (n) spdlog::info("WAN {}: flushed {} conntrack entries NATed to its address", w.cfg->name, n);
    } catch (const std::exception& e) {
      spdlog::warn("WAN {}: conntrack flush failed: {}", w.cfg->name, e.what());
    }
  }
  hooks_->run({{"WANLB_WAN", w.cfg->name},
              {"WANLB_INTERFACE", w.cfg->interface},
              {"WANLB_OLD_STATE", state_name(old_state)},
              {"WANLB_NEW_STATE", state_name(now)},
              {"WANLB_REASON", w.reason}});
}

int Agent::poll_timeout_ms(uint64_t now_ns) const {
  int timeout = kResyncMs;
  for (const auto& w : wans_) {
    if (!w.probes()) continue;
    int due = poll_ms_until(w.next_round_ns, now_ns);
    // Rounds in flight time out between sends: wake often enough to see it.
    timeout = std::min({timeout, due, kMaxSleepMs});
  }
  return std::max(timeout, 0);
}

void Agent::loop() {
  Fd sfd(signalfd(-1, &control_signals(), SFD_CLOEXEC));
  ConnectedWatcher watcher;
  uint64_t last_resync_ns = mono_ns();

  for (;;) {
    std::vector<pollfd> fds = {{sfd.get(), POLLIN, 0}, {watcher.fd(), POLLIN, 0}, {control_->fd(), POLLIN, 0}};
    for (int fd : prober_->fds()) fds.push_back({fd, POLLIN, 0});
    int n = poll(fds.data(), fds.size(), poll_timeout_ms(mono_ns()));
    if (n < 0 && errno != EINTR) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    uint64_t now = mono_ns();
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si{};
      if (read(sfd.get(), &si, sizeof(si)) == sizeof(si) && si.ssi_signo == SIGHUP) {
        try {
          reload();
        } catch (const std::exception&) {
          // logged by reload(); the running config stays
        }
        continue;
      }
      spdlog::info("signal {}: exiting; the data path stays in place (wanlb cleanup removes it)",
                   strsignal(static_cast<int>(si.ssi_signo)));
      return;
    }
    if (fds[2].revents & POLLIN) control_->on_readable();
    for (size_t i = 3; i < fds.size(); i++)
      if (fds[i].revents & POLLIN) prober_->on_readable(fds[i].fd, now);
    collect_rounds(now);
    send_due_rounds(now);
    hooks_->reap(now / kNsPerMs);

    unsigned changed = (fds[1].revents & POLLIN) ? watcher.drain() : 0;
    bool resync = now - last_resync_ns >= kResyncMs * kNsPerMs;
    if (!changed && !resync) continue;
    try {
      // A carrier change acts at once; address and route changes come in
      // bursts and are read as a whole.
      if (changed & ConnectedWatcher::kLink || resync) {
        refresh_links(now / kNsPerMs);
        sync_lan();
      }
      refresh_gateways(now / kNsPerMs);
      configure_prober();
      sync_bypass_maps();
      apply_wans();
      sync_routing();
    } catch (const std::exception& e) {
      spdlog::warn("resync failed (will retry): {}", e.what());
    }
    if (resync) last_resync_ns = now;
  }
}

nlohmann::json Agent::status() {
  nlohmann::json out = status_json(dp_->dup_maps(), "agent");
  std::lock_guard<std::mutex> lock(counters_mu_);
  out["agent"] = {{"pid", getpid()},
                  {"config", config_path_},
                  {"state_file", state_path_},
                  {"control_socket", control_socket_path()},
                  {"reloads", counters_.reloads_total},
                  {"reload_failures", counters_.reload_failures_total},
                  {"state_changes", counters_.state_changes_total},
                  {"probe_replies_ignored", prober_->ignored_replies()}};
  return out;
}

// One request on the control socket.
nlohmann::json Agent::handle(const nlohmann::json& request) {
  std::string cmd = request.value("cmd", std::string());
  try {
    if (cmd == "status") return {{"ok", true}, {"result", status()}};
    if (cmd == "flows") return {{"ok", true}, {"result", flows_json(dp_->dup_maps(), request.value("wan", ""))}};
    if (cmd == "reload") return {{"ok", true}, {"result", reload()}};
    if (cmd == "drain" || cmd == "undrain")
      return {{"ok", true}, {"result", drain(request.value("wan", ""), cmd == "drain")}};
    return {{"ok", false}, {"error", "unknown command '" + cmd + "'"}};
  } catch (const ConfigError& e) {
    return {{"ok", false}, {"error", e.what()}, {"config_error", true}};
  }
}

std::string Agent::drain(const std::string& name, bool drain) {
  for (auto& w : wans_) {
    if (w.cfg->name != name) continue;
    if (w.drained == drain) return "WAN " + name + (drain ? " is already drained" : " is not drained");
    w.drained = drain;
    apply_wans();
    sync_routing();
    spdlog::info("WAN {}: {} by the operator", name, drain ? "drained (no new connections)" : "undrained");
    return "WAN " + name + (drain ? " drained: no new connections; existing ones go on" : " takes new connections again");
  }
  std::string names;
  for (const auto& w : wans_) names += (names.empty() ? "" : ", ") + w.cfg->name;
  throw ConfigError("no WAN named '" + name + "' (WANs: " + names + ")");
}

// Re-read the config and apply what changed. An invalid config, or one that
// changes a key only a restart can change, is refused and the running one
// stays in force, untouched: everything is checked before anything is
// applied. Should applying fail (the kernel refuses a route, say), the
// previous config is applied again and stays in force.
std::string Agent::reload() {
  Laps laps("reload");
  notify_reloading();
  try {
    Config next = load_validated_config(config_path_, true);
    check_reloadable(cfg_, next, dp_->max_entries(MapId::Pairs));
    keep_wan_ids(cfg_, &next);
    laps.lap("load+check");

    // The old runtimes point into old_cfg (a moved vector keeps its elements).
    Config old_cfg = std::move(cfg_);
    cfg_ = std::move(next);
    std::vector<WanRuntime> previous = std::move(wans_);
    try {
      apply_reload(old_cfg, previous, &laps);
    } catch (const std::exception& e) {
      spdlog::error("reload: applying {} failed ({}); going back to the previous config", cfg_.source, e.what());
      cfg_ = std::move(old_cfg);
      wans_ = std::move(previous);
      try {
        Laps back("going back");
        apply_config(true, &back);
      } catch (const std::exception& again) {
        spdlog::error("reload: re-applying the previous config: {} (the next resync retries)", again.what());
      }
      throw;
    }
    hooks_ = std::make_unique<HookRunner>(cfg_.hook);
    if (old_cfg.metrics != cfg_.metrics) {
      // The new config is in force by now: a metrics address that cannot be
      // bound is reported, not turned into a refused reload.
      try {
        start_services();
      } catch (const std::exception& e) {
        spdlog::error("reload: metrics endpoint not started: {}", e.what());
      }
    }
  } catch (const std::exception& e) {
    {
      std::lock_guard<std::mutex> lock(counters_mu_);
      counters_.reload_failures_total++;
    }
    spdlog::error("reload refused: {}", e.what());
    notify_ready("reload refused; running config unchanged");
    throw;
  }
  {
    std::lock_guard<std::mutex> lock(counters_mu_);
    counters_.reloads_total++;
  }
  std::string done = "reloaded " + config_path_ + ": " + std::to_string(cfg_.wans.size()) + " WANs, " +
                     std::to_string(cfg_.policies.size()) + " policies";
  spdlog::info("{} (maps written {:.1f} ms after the request, all applied in {:.1f} ms)", done, laps.slots_ms(),
               laps.total_ms());
  notify_ready(done);
  return done;
}

// The order that keeps every packet on a WAN that can carry it:
//  1. the new WANs' rules, routes and NAT (only when some WAN is new or
//     routed differently; the old ones stay for now);
//  2. the maps: policies (when they changed), the data path config, the
//     WAN entries and the slot table; for a weight change, this is the
//     first thing written, a few milliseconds after the request;
//  3. routing and NAT exactly as the new config says (what only the old
//     config had goes, now that no slot or policy names it), then the rest.
void Agent::apply_reload(const Config& old_cfg, const std::vector<WanRuntime>& previous, Laps* laps) {
  maps_deferred_ = true;  // a WAN found down here is written with everything else in step 2
  try {
    init_wans({}, previous);
  } catch (...) {
    maps_deferred_ = false;
    throw;
  }
  maps_deferred_ = false;
  laps->lap("init_wans");
  if (routes_first(old_cfg, cfg_)) {
    sync_routing(&old_cfg, &previous);
    apply_nft(&old_cfg);
    laps->lap("routes first");
  }
  apply_config(!(cfg_.policies == old_cfg.policies), laps);
}

// Steps 2 and 3 of a reload (all of them, `policies` included, when a
// failed reload goes back to the previous config).
void Agent::apply_config(bool policies, Laps* laps) {
  if (policies) {
    apply_policies(policy_map_fds(*dp_), cfg_.policies);
    policy_order_.clear();
    laps->lap("policies");
  }
  auto seed = read_config(dp_->map_fd(MapId::Config));
  write_config(dp_->map_fd(MapId::Config), plan_dp_config(cfg_, seed ? seed->hash_seed : random_value<uint32_t>()));
  apply_wans();
  laps->lap(Laps::kSlotsLap);
  sync_bypass_maps();
  sync_routing();
  apply_nft();
  laps->lap("bypass+routing+nft");
  configure_prober();
  sync_lan();
  order_policies_by_rtt();
  laps->lap("prober+lan");
}

void Agent::stop() {
  notify_stopping();
  state_.agent_pid = 0;
  save_state(state_path_, state_);
}

}  // namespace

Config load_validated_config(const std::string& path, bool check_interfaces) {
  Config cfg = load_config(path);
  for (size_t i = 0; i < cfg.wans.size(); i++)
    if (is_interface_pattern(cfg.wans[i].interface))
      throw ConfigError(cfg.source + ":" + std::to_string(cfg.wans[i].interface_line) + ": wans[" +
                        std::to_string(i) + "].interface: '" + cfg.wans[i].interface +
                        "' is a pattern; only lan entries may be patterns");
  if (check_interfaces)
    validate_interfaces(cfg, [&](const std::string& name) {
      bool lan_pattern = is_interface_pattern(name) && std::find(cfg.lan.begin(), cfg.lan.end(), name) != cfg.lan.end();
      return lan_pattern || if_nametoindex(name.c_str()) != 0;
    });
  return cfg;
}

int run_agent(const Config& cfg, const std::string& config_path) {
  // Blocked before any thread exists (the metrics server starts threads),
  // so every thread inherits the mask and the signals reach only the
  // main loop's signalfd instead of killing the process from a thread.
  pthread_sigmask(SIG_BLOCK, &control_signals(), nullptr);
  Agent agent(cfg, config_path);
  agent.start();
  agent.loop();
  agent.stop();
  return 0;
}

}  // namespace wanlb
