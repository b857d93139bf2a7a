#include "agent.h"

#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <spdlog/spdlog.h>

#include "bpffs.h"
#include "connected.h"
#include "datapath.h"
#include "map_io.h"
#include "plan.h"
#include "routing.h"
#include "state_store.h"
#include "sysctl.h"

namespace wanlb {

namespace {

int ifindex_of(const std::string& name) { return static_cast<int>(if_nametoindex(name.c_str())); }

uint32_t fresh_seed() {
  uint32_t seed = 0;
  if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) seed = static_cast<uint32_t>(time(nullptr));
  return seed;
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
    if (w.has_gateway && w.gateway.family == AF_INET6) {
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

class Agent {
 public:
  explicit Agent(const Config& cfg) : cfg_(cfg), state_path_(state_path()) {}
  void start();
  void loop();
  void stop();

 private:
  void sync_bypass_maps();
  void sync_routing();
  void sync_wans();

  const Config& cfg_;
  std::string state_path_;
  AppliedState state_;
  std::unique_ptr<Datapath> dp_;
  std::unique_ptr<Routing> routing_;
  std::vector<wanlb_wan> applied_wans_;  // what sync_wans last wrote
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
  if (adopt) spdlog::info("adopting the running data path ({})", source);
  uint32_t seed = 0;
  if (adopt) {
    if (auto old = read_config(running[MapId::Config])) seed = old->hash_seed;
  }
  if (seed == 0) seed = fresh_seed();
  dp_ = std::make_unique<Datapath>(cfg_.flow_table_size, adopt ? &running : nullptr, &log);
  for (const auto& l : log) spdlog::info("{}", l);

  // Fill every map before the first packet can reach the program.
  write_config(dp_->map_fd(MapId::Config), plan_dp_config(cfg_, seed));
  sync_wans();
  sync_bypass_maps();

  routing_ = std::make_unique<Routing>(static_cast<uint8_t>(cfg_.route_protocol));
  sync_routing();
  apply_sysctls(cfg_, &state_);

  dp_->pin(cfg_.bpffs_dir);
  state_.bpffs_dir = cfg_.bpffs_dir;
  state_.route_protocol = cfg_.route_protocol;
  state_.agent_pid = getpid();
  for (const auto& lan : cfg_.lan) {
    auto& created = state_.clsact_created;
    if (dp_->attach(ifindex_of(lan)) && std::find(created.begin(), created.end(), lan) == created.end())
      created.push_back(lan);
    if (std::find(state_.lan.begin(), state_.lan.end(), lan) == state_.lan.end()) state_.lan.push_back(lan);
    spdlog::info("attached {} to tc ingress of {}", kProgName, lan);
  }
  save_state(state_path_, state_);
  spdlog::info("ready: {} WANs, classifier {}, pins under {}", cfg_.wans.size(), classifier_name(cfg_.classifier),
               cfg_.bpffs_dir);
}

void Agent::sync_wans() {
  std::vector<wanlb_wan> want = plan_wans(cfg_, ifindex_of);
  // The periodic resync calls this every few seconds: nothing to do unless
  // the WAN entries changed (an interface came back with a new ifindex...).
  if (want.size() == applied_wans_.size() &&
      std::memcmp(want.data(), applied_wans_.data(), want.size() * sizeof(wanlb_wan)) == 0)
    return;
  std::vector<wanlb_wan> have = read_wans(dp_->map_fd(MapId::Wans));
  // Three steps so that no packet ever reads a slot naming a WAN whose entry
  // is not up: first every WAN that is up before or after counts as up,
  // then the slots move, then WANs that left are marked down.
  std::vector<wanlb_wan> bridge = want;
  for (uint32_t id = 1; id < bridge.size() && id < have.size(); id++)
    if (have[id].flags & WANLB_WAN_F_UP && !(bridge[id].flags & WANLB_WAN_F_UP)) bridge[id] = have[id];
  write_wans(dp_->map_fd(MapId::Wans), bridge);
  size_t changed = sync_slots(dp_->map_fd(MapId::Slots), build_slot_table(slot_members(want), WANLB_SLOT_COUNT));
  write_wans(dp_->map_fd(MapId::Wans), want);
  applied_wans_ = want;
  if (changed) spdlog::info("slot table: {} of {} slots changed", changed, WANLB_SLOT_COUNT);
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

void Agent::sync_routing() {
  RoutingPlan plan = plan_routing(cfg_, ifindex_of);
  for (const auto& line : routing_->reconcile(plan)) spdlog::info("{}", line);
}

void Agent::loop() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  Fd sfd(signalfd(-1, &mask, SFD_CLOEXEC));
  ConnectedWatcher watcher;

  pollfd fds[2] = {{sfd.get(), POLLIN, 0}, {watcher.fd(), POLLIN, 0}};
  for (;;) {
    // The 5 s timeout is a safety net: routes the kernel flushed (a WAN
    // going down) are put back even if a notification was missed.
    int n = poll(fds, 2, 5000);
    if (n < 0 && errno != EINTR) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si{};
      if (read(sfd.get(), &si, sizeof(si)) == sizeof(si))
        spdlog::info("signal {}: exiting; the data path stays in place (wanlb cleanup removes it)",
                     strsignal(static_cast<int>(si.ssi_signo)));
      return;
    }
    if (fds[1].revents & POLLIN) {
      watcher.drain();
      usleep(50 * 1000);  // let a burst of address/route changes settle
      watcher.drain();
    }
    try {
      sync_bypass_maps();
      sync_wans();
      sync_routing();
    } catch (const std::exception& e) {
      spdlog::warn("resync failed (will retry): {}", e.what());
    }
  }
}

void Agent::stop() {
  state_.agent_pid = 0;
  save_state(state_path_, state_);
}

}  // namespace

int run_agent(const Config& cfg) {
  Agent agent(cfg);
  agent.start();
  agent.loop();
  agent.stop();
  return 0;
}

}  // namespace wanlb
