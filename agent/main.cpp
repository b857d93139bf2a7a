// wanlb-agent: the whole command line (the `wanlb` front binary runs it for
// every verb but reload, drain and undrain; see wanlb_front.cpp). Each verb
// is a thin shell over agent/*.
//
// Exit codes: 0 ok; 1 runtime failure; 2 bad config or usage;
// 3 no running data path (status, flows) or no running agent (reload, drain).
#include <net/if.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include <CLI/CLI.hpp>
#include <cstdarg>
#include <cstdio>
#include <algorithm>
#include <iostream>
#include <optional>
#include <spdlog/spdlog.h>

#include "agent.h"
#include "commands.h"
#include "config.h"
#include "ctl.h"
#include "lan_match.h"

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitConfig = 2;

// libbpf's messages (verifier log included) go through spdlog.
int libbpf_to_spdlog(libbpf_print_level level, const char* fmt, va_list args) {
  char buf[4096];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  std::string msg(buf);
  while (!msg.empty() && msg.back() == '\n') msg.pop_back();
  if (level == LIBBPF_WARN) spdlog::warn("libbpf: {}", msg);
  else if (level == LIBBPF_INFO) spdlog::debug("libbpf: {}", msg);
  else spdlog::trace("libbpf: {}", msg);
  return n;
}

// Parse and validate; print the error and return nullopt on failure.
std::optional<wanlb::Config> load_valid(const std::string& path, bool check_interfaces) {
  try {
    return wanlb::load_validated_config(path, check_interfaces);
  } catch (const wanlb::ConfigError& e) {
    std::cerr << "wanlb: " << e.what() << "\n";
    return std::nullopt;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Started by the `wanlb` front binary (wanlb_front.cpp) under the name
  // wanlb-agent: the agent recognises its peers by the name `wanlb`.
  prctl(PR_SET_NAME, "wanlb", 0, 0, 0);
  CLI::App app{"wanlb: per-connection load balancing over several WANs with eBPF"};
  app.set_version_flag("--version", std::string("wanlb ") + WANLB_VERSION);
  app.require_subcommand(1);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();

  std::string config_path;
  std::string bpffs_dir = "/sys/fs/bpf/wanlb";
  bool json = false;
  std::string wan_filter;
  bool skip_interfaces = false;
  uint32_t route_protocol = 201;

  auto* run = app.add_subcommand("run", "Load the data path, install routing, and keep it current");
  run->add_option("-c,--config", config_path, "config file (YAML)")->required();

  auto* check = app.add_subcommand("check", "Validate a config and print the plan; changes nothing");
  check->add_option("-c,--config", config_path, "config file (YAML)")->required();
  check->add_flag("--no-interfaces", skip_interfaces, "do not check that the interfaces exist here");
  check->add_flag("--json", json, "machine-readable output");

  auto* status = app.add_subcommand("status", "Per-WAN state, shares and counters of the running data path");
  status->add_flag("--json", json, "machine-readable output");
  status->add_option("--bpffs", bpffs_dir, "pin directory")->capture_default_str();

  auto* flows = app.add_subcommand("flows", "The flow table: each connection and its WAN");
  flows->add_flag("--json", json, "machine-readable output");
  flows->add_option("--wan", wan_filter, "only flows of this WAN");
  flows->add_option("--bpffs", bpffs_dir, "pin directory")->capture_default_str();

  std::string drain_wan;
  auto* reload = app.add_subcommand("reload", "Make the running agent re-read its config (same as SIGHUP)");
  auto* drain = app.add_subcommand("drain", "No new connections on a WAN; its existing ones finish");
  drain->add_option("wan", drain_wan, "WAN name")->required();
  auto* undrain = app.add_subcommand("undrain", "Give a drained WAN new connections again");
  undrain->add_option("wan", drain_wan, "WAN name")->required();

  auto* cleanup = app.add_subcommand("cleanup", "Remove everything wanlb installed in this network namespace");
  cleanup->add_option("-c,--config", config_path, "config file: takes route_protocol and bpffs_dir from it");
  cleanup->add_option("--bpffs", bpffs_dir, "pin directory")->capture_default_str();

  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  libbpf_set_print(libbpf_to_spdlog);

  try {
    if (*check) {
      auto cfg = load_valid(config_path, !skip_interfaces);
      return cfg ? wanlb::cmd_check(*cfg, json) : kExitConfig;
    }
    if (*status) return wanlb::cmd_status(bpffs_dir, json);
    if (*flows) return wanlb::cmd_flows(bpffs_dir, json, wan_filter);
    if (*reload) return wanlb::cmd_reload();
    if (*drain) return wanlb::cmd_drain(drain_wan, true);
    if (*undrain) return wanlb::cmd_drain(drain_wan, false);
    if (geteuid() != 0) spdlog::warn("not root: expect permission errors");
    if (*cleanup) {
      if (!config_path.empty()) {
        auto cfg = load_valid(config_path, false);
        if (!cfg) return kExitConfig;
        route_protocol = cfg->route_protocol;
        bpffs_dir = cfg->bpffs_dir;
      }
      return wanlb::cmd_cleanup(bpffs_dir, route_protocol);
    }
    if (*run) {
      auto cfg = load_valid(config_path, true);
      return cfg ? wanlb::run_agent(*cfg, config_path) : kExitConfig;
    }
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kExitRuntime;
  }
  return kExitRuntime;
}
