#include "commands.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>
#include <net/if.h>
#include <time.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "datapath.h"
#include "health.h"
#include "map_io.h"
#include "control.h"
#include "nft.h"
#include "plan.h"
#include "policy_maps.h"
#include "routing.h"
#include "state_store.h"
#include "sysctl.h"

namespace wanlb {

namespace {

constexpr uint64_t kActiveNs = 60ULL * 1000000000ULL;  // "active" = seen in the last minute

uint64_t monotonic_coarse_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

std::string ifname(uint32_t ifindex) {
  char buf[IF_NAMESIZE] = {};
  return if_indextoname(ifindex, buf) ? buf : "#" + std::to_string(ifindex);
}

std::string gateway_str(const wanlb_wan& w) {
  if (w.gw_family == 0) return "-";
  return flow_addr_str(w.gw_family, w.gateway);
}

const char* proto_name(uint8_t proto) {
  switch (proto) {
    case 6: return "tcp";
    case 17: return "udp";
    case 1: return "icmp";
    case 58: return "icmpv6";
    default: return nullptr;
  }
}

// Open the running data path's maps or explain why not.
bool open_or_explain(const std::string& bpffs_dir, MapFds* maps, std::string* source) {
  if (open_running_maps(bpffs_dir, maps, source)) return true;
  std::cerr << "wanlb: no running data path in this network namespace (no pins under " << bpffs_dir
            << " and no wanlb program attached to any interface)\n";
  return false;
}

std::string format_time(uint64_t unix_ms) {
  if (unix_ms == 0) return "-";
  time_t t = static_cast<time_t>(unix_ms / 1000);
  tm utc{};
  gmtime_r(&t, &utc);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

const char* counter_name(int i) {
  static const char* names[WANLB_CNT_COUNT] = {"bypassed",  "unparsable", "no_wan", "non_ip",
                                               "fragments", "inbound",    "sticky", "xdp_redirect"};
  return names[i];
}

}  // namespace

int cmd_check(const Config& cfg, bool json) {
  if (json) std::cout << plan_json(cfg).dump(2) << "\n";
  else std::cout << describe_plan(cfg);
  return 0;
}

nlohmann::json status_json(const MapFds& maps, const std::string& source) {
  std::vector<wanlb_wan> wans = read_wans(maps[MapId::Wans]);
  std::vector<wanlb_wan_stats> stats = read_wan_stats(maps[MapId::WanStats]);
  std::vector<uint64_t> counters = read_counters(maps[MapId::Counters]);
  std::vector<uint32_t> slots = read_slots(maps[MapId::Slots]);
  std::vector<FlowEntry> flows = read_flows(maps[MapId::Flows]);
  auto cfg = read_config(maps[MapId::Config]);

  uint64_t now = monotonic_coarse_ns();
  std::map<uint32_t, uint64_t> flow_count, active_count, slot_count;
  for (const auto& f : flows) {
    flow_count[f.value.wan_id]++;
    if (now - f.value.last_seen_ns < kActiveNs) active_count[f.value.wan_id]++;
  }
  for (uint32_t s : slots) slot_count[s]++;
  uint64_t total_weight = 0;
  for (const auto& w : wans)
    if (w.flags & WANLB_WAN_F_CONFIGURED) total_weight += w.weight;

  nlohmann::json out;
  out["data_path"] = source;
  out["classifier"] = cfg ? classifier_name(static_cast<wanlb_classifier>(cfg->classifier)) : "?";
  out["flow_entries"] = flows.size();
  out["wans"] = nlohmann::json::array();
  for (uint32_t id = 1; id < wans.size(); id++) {
    const wanlb_wan& w = wans[id];
    if (!(w.flags & WANLB_WAN_F_CONFIGURED)) continue;
    out["wans"].push_back({{"id", id},
                           {"name", w.name},
                           {"interface", ifname(w.ifindex)},
                           {"gateway", gateway_str(w)},
                           {"weight", w.weight},
                           {"configured_share", total_weight ? double(w.weight) / double(total_weight) : 0.0},
                           {"slot_share", double(slot_count[id]) / WANLB_SLOT_COUNT},
                           {"tier", w.tier},
                           {"state", state_name(static_cast<WanState>(w.state))},
                           {"carries_flows", (w.flags & WANLB_WAN_F_UP) != 0},
                           {"drained", (w.flags & WANLB_WAN_F_DRAINED) != 0},
                           {"since", format_time(w.since_ms)},
                           {"since_unix_ms", w.since_ms},
                           {"reason", std::string(w.reason, strnlen(w.reason, sizeof(w.reason)))},
                           {"rtt_ms", w.rtt_us / 1000.0},
                           {"loss_percent", w.loss_ppm / 10000.0},
                           {"mark", w.mark},
                           {"table", w.table},
                           {"flows", flow_count[id]},
                           {"active_flows", active_count[id]},
                           {"packets", stats[id].packets},
                           {"bytes", stats[id].bytes},
                           {"new_flows", stats[id].new_flows}});
  }
  for (int i = 0; i < WANLB_CNT_COUNT; i++) out["counters"][counter_name(i)] = counters[i];
  bool any_slot = false;
  for (const auto& [id, n] : slot_count) any_slot |= id != 0 && n > 0;
  out["all_down"] = !any_slot;  // no WAN takes new connections: they follow the main table
  out["policies"] = nlohmann::json::array();
  if (cfg) {
    PolicyMapFds pfds = policy_map_fds(maps);
    std::vector<wanlb_policy> entries = read_policy_entries(pfds.policies);
    std::vector<uint64_t> hits = read_policy_hits(maps[MapId::PolHits]);
    static const char* actions[] = {"wans", "balance", "bypass"};
    for (uint32_t i = 0; i < cfg->n_policies && i < entries.size(); i++) {
      nlohmann::json wans_json = nlohmann::json::array();
      for (uint32_t k = 0; k < entries[i].n_wans; k++) {
        uint32_t id = entries[i].wans[k];
        wans_json.push_back(id < wans.size() ? std::string(wans[id].name) : std::to_string(id));
      }
      out["policies"].push_back({{"name", std::string(entries[i].name, strnlen(entries[i].name, 16))},
                                 {"action", entries[i].action < 3 ? actions[entries[i].action] : "?"},
                                 {"wans", wans_json},
                                 {"hits", i < hits.size() ? hits[i] : 0}});
    }
  }
  out["bypass"] = nlohmann::json::array();
  for (const auto& b : read_bypass(maps[MapId::Bypass4], maps[MapId::Bypass6])) {
    nlohmann::json origin = nlohmann::json::array();
    if (b.origin & WANLB_BYPASS_CONFIG) origin.push_back("config");
    if (b.origin & WANLB_BYPASS_CONNECTED) origin.push_back("connected");
    if (b.origin & WANLB_BYPASS_LOCAL) origin.push_back("local");
    out["bypass"].push_back({{"prefix", b.prefix.str()}, {"origin", origin}});
  }

  return out;
}

namespace {

void print_status(const nlohmann::json& out) {
  std::printf("data path: %s; classifier %s; %zu flow entries\n", out["data_path"].get<std::string>().c_str(),
              out["classifier"].get<std::string>().c_str(), out["flow_entries"].get<size_t>());
  if (out.contains("agent") && out["agent"].is_object())
    std::printf("agent: pid %d, config %s, %lu reloads\n", out["agent"]["pid"].get<int>(),
                out["agent"]["config"].get<std::string>().c_str(), out["agent"]["reloads"].get<uint64_t>());
  else
    std::printf("agent: not running (the data path keeps forwarding on what the maps hold; no probing)\n");
  if (out["all_down"].get<bool>())
    std::printf("ALL WANS DOWN: new connections are not balanced and follow the main table\n");
  std::printf("%-15s %-10s %-16s %6s %4s %7s %-9s %8s %6s %8s %10s %14s %s\n", "WAN", "INTERFACE", "GATEWAY",
              "WEIGHT", "TIER", "SHARE", "STATE", "RTT", "LOSS", "FLOWS", "PACKETS", "BYTES", "SINCE / REASON");
  for (const auto& w : out["wans"]) {
    char rtt[16];
    std::snprintf(rtt, sizeof(rtt), "%.1fms", w["rtt_ms"].get<double>());
    std::printf("%-15s %-10s %-16s %6u %4u %6.2f%% %-9s %8s %5.1f%% %8lu %10lu %14lu %s (%s)\n",
                w["name"].get<std::string>().c_str(), w["interface"].get<std::string>().c_str(),
                w["gateway"].get<std::string>().c_str(), w["weight"].get<uint32_t>(), w["tier"].get<uint32_t>(),
                100.0 * w["configured_share"].get<double>(), (w["state"].get<std::string>() + (w.value("drained", false) ? "*" : "")).c_str(), rtt,
                w["loss_percent"].get<double>(), w["flows"].get<uint64_t>(), w["packets"].get<uint64_t>(),
                w["bytes"].get<uint64_t>(), w["since"].get<std::string>().c_str(),
                w["reason"].get<std::string>().c_str());
  }
  std::printf("counters:");
  for (const auto& [name, value] : out["counters"].items()) std::printf(" %s=%lu", name.c_str(), value.get<uint64_t>());
  if (!out["policies"].empty()) {
    std::printf("\npolicies (new connections decided):");
    for (const auto& p : out["policies"])
      std::printf(" %s=%lu", p["name"].get<std::string>().c_str(), p["hits"].get<uint64_t>());
  }
  std::printf("\nbypass: %zu prefixes (config, connected networks, local addresses; --json lists them)\n",
              out["bypass"].size());
}

}  // namespace

int cmd_status(const std::string& bpffs_dir, bool json) {
  nlohmann::json out;
  try {
    nlohmann::json reply = control_request(control_socket_path(), {{"cmd", "status"}});
    if (!reply.value("ok", false)) {
      std::cerr << "wanlb: " << reply.value("error", std::string("the agent refused")) << "\n";
      return 1;
    }
    out = reply["result"];
  } catch (const NoAgentError&) {
    // No agent: the data path may still run on its own; read the maps.
    MapFds maps;
    std::string source;
    if (!open_or_explain(bpffs_dir, &maps, &source)) return 3;
    out = status_json(maps, source);
    out["agent"] = nullptr;
  }
  if (json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  print_status(out);
  return 0;
}

nlohmann::json flows_json(const MapFds& maps, const std::string& wan_filter) {
  std::vector<wanlb_wan> wans = read_wans(maps[MapId::Wans]);
  uint32_t only_id = 0;
  if (!wan_filter.empty()) {
    for (uint32_t id = 1; id < wans.size(); id++)
      if ((wans[id].flags & WANLB_WAN_F_CONFIGURED) && wan_filter == wans[id].name) only_id = id;
    if (only_id == 0) throw std::invalid_argument("no WAN named '" + wan_filter + "' in the running data path");
  }
  uint64_t now = monotonic_coarse_ns();
  std::vector<FlowEntry> flows = read_flows(maps[MapId::Flows]);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : flows) {
    if (only_id && f.value.wan_id != only_id) continue;
    const char* pn = proto_name(f.key.proto);
    uint32_t wid = f.value.wan_id < wans.size() ? f.value.wan_id : 0;
    out.push_back({{"family", f.key.family == AF_INET6 ? "ipv6" : "ipv4"},
                   {"proto", pn ? pn : std::to_string(f.key.proto)},
                   {"src", flow_addr_str(f.key.family, f.key.saddr)},
                   {"sport", ntohs(f.key.sport)},
                   {"dst", flow_addr_str(f.key.family, f.key.daddr)},
                   {"dport", ntohs(f.key.dport)},
                   {"wan", wid ? std::string(wans[wid].name) : "?"},
                   {"wan_id", f.value.wan_id},
                   {"idle_s", now > f.value.last_seen_ns ? (now - f.value.last_seen_ns) / 1000000000ULL : 0}});
  }
  return out;
}

int cmd_flows(const std::string& bpffs_dir, bool json, const std::string& wan_filter) {
  nlohmann::json out;
  try {
    try {
      nlohmann::json reply = control_request(control_socket_path(), {{"cmd", "flows"}, {"wan", wan_filter}});
      if (!reply.value("ok", false)) throw std::invalid_argument(reply.value("error", std::string("refused")));
      out = reply["result"];
    } catch (const NoAgentError&) {
      MapFds maps;
      std::string source;
      if (!open_or_explain(bpffs_dir, &maps, &source)) return 3;
      out = flows_json(maps, wan_filter);
    }
  } catch (const std::invalid_argument& e) {
    std::cerr << "wanlb: " << e.what() << "\n";
    return 2;
  }
  if (json) {
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%-6s %-39s %5s   %-39s %5s  %-15s %6s\n", "PROTO", "SOURCE", "SPORT", "DESTINATION", "DPORT", "WAN",
              "IDLE");
  for (const auto& f : out)
    std::printf("%-6s %-39s %5u   %-39s %5u  %-15s %5lus\n", f["proto"].get<std::string>().c_str(),
                f["src"].get<std::string>().c_str(), f["sport"].get<unsigned>(), f["dst"].get<std::string>().c_str(),
                f["dport"].get<unsigned>(), f["wan"].get<std::string>().c_str(), f["idle_s"].get<uint64_t>());
  std::printf("%zu flows\n", out.size());
  return 0;
}

int cmd_cleanup(const std::string& bpffs_dir, uint32_t route_protocol) {
  std::string path = state_path();
  AppliedState state = load_state(path);
  if (agent_alive(state.agent_pid)) {
    std::cerr << "wanlb: an agent (pid " << state.agent_pid
              << ") still runs in this network namespace and would re-install what cleanup removes; stop it first\n";
    return 1;
  }
  std::string dir = state.bpffs_dir.empty() ? bpffs_dir : state.bpffs_dir;
  if (state.route_protocol != 0) route_protocol = state.route_protocol;

  for (int ifindex : find_attachments()) {
    detach(ifindex);
    spdlog::info("detached {} from {}", kProgName, ifname(static_cast<uint32_t>(ifindex)));
  }
  for (const auto& name : state.clsact_created) {
    if (int ifindex = static_cast<int>(if_nametoindex(name.c_str()))) {
      destroy_clsact(ifindex);
      spdlog::info("removed the clsact qdisc wanlb created on {}", name);
    }
  }
  Routing routing(static_cast<uint8_t>(route_protocol));
  for (const auto& line : routing.remove_all()) spdlog::info("{}", line);
  if (Nft().remove()) spdlog::info("removed nftables table inet {}", kNftTable);
  for (const auto& p : unpin_all(dir)) spdlog::info("removed {}", p);
  for (auto it = state.sysctls.rbegin(); it != state.sysctls.rend(); ++it) {
    // Put the old value back only if nobody changed it since we did.
    std::string now;
    try {
      now = sysctl_get(it->key);
    } catch (const std::exception&) {
      continue;  // the interface is gone
    }
    if (now != it->new_value) {
      spdlog::info("sysctl {} is {} (not wanlb's {}): left alone", it->key, now, it->new_value);
      continue;
    }
    sysctl_set(it->key, it->old_value);
    spdlog::info("sysctl {}: {} -> {} (restored)", it->key, it->new_value, it->old_value);
  }
  remove_state(path);
  // A killed agent could not unlink its control socket; no agent runs now.
  std::string sock = control_socket_path();
  struct stat st {};
  if (lstat(sock.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && unlink(sock.c_str()) == 0)
    spdlog::info("removed {}", sock);
  return 0;
}

}  // namespace wanlb
