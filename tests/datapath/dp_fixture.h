// DatapathFixture: loads the real wanlb_tc_lan program (through the agent's
// Datapath class, so the same skeleton and map sizing), programs its maps
// for N WANs the way the agent does, and runs frames through it with
// BPF_PROG_TEST_RUN. Nothing is attached or pinned: the program and its maps
// live only as long as the fixture's file descriptors.
//
// WAN i (1-based) is named "wanI" with mark i << 16 under mark_mask
// 0x00ff0000, so wan_of(mark) recovers the id.
#pragma once

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config.h"
#include "datapath.h"
#include "datapath/packet_builder.h"
#include "map_io.h"
#include "plan.h"
#include "policy_maps.h"
#include "prog_run.h"
#include "slot_table.h"
#include "wanlb/dp_shared.h"

namespace wanlb_test {

class DatapathFixture : public ::testing::Test {
 protected:
  static constexpr uint32_t kMarkMask = 0x00ff0000;
  static constexpr uint32_t kSeed = 0x5eed1234;
  static constexpr uint32_t kFlowEntries = 65536;

  struct RunResult {
    int err;          // 0, or -errno when the kernel refused to run the program
    uint32_t retval;  // the program's return value (TC_ACT_*)
    uint32_t mark;    // skb->mark after the program
  };

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root for BPF_PROG_TEST_RUN";
    dp_ = std::make_unique<wanlb::Datapath>(kFlowEntries, kFlowEntries, nullptr, &log_);  // sticky tests need pairs
    configure(2, WANLB_CLS_BOTH_ADDRESSES_AND_PORTS);
  }

  int fd(wanlb::MapId id) const { return dp_->map_fd(id); }

  // n WANs, all configured and up, equal weights; the slot table built from them.
  void configure(uint32_t n, uint32_t classifier, uint32_t seed = kSeed) {
    wans_.assign(WANLB_MAX_WANS + 1, wanlb_wan{});
    for (uint32_t id = 1; id <= n; id++) {
      wanlb_wan& w = wans_[id];
      std::snprintf(w.name, sizeof w.name, "wan%u", id);
      w.mark = id << 16;
      w.table = 100 + id;
      w.weight = 1;
      w.flags = WANLB_WAN_F_CONFIGURED | WANLB_WAN_F_UP;
    }
    wanlb::write_wans(fd(wanlb::MapId::Wans), wans_);
    set_classifier(classifier, seed);
    rebuild_slots();
  }

  void set_classifier(uint32_t classifier, uint32_t seed = kSeed) {
    cfg_.classifier = classifier;
    cfg_.mark_mask = kMarkMask;
    cfg_.hash_seed = seed;
    write_cfg();
  }
  void write_cfg() { wanlb::write_config(fd(wanlb::MapId::Config), cfg_); }

  // WANLB_CFG_F_* bits of the run-time config (others kept as they are).
  void set_cfg_flag(uint32_t flag, bool on) {
    if (on) cfg_.flags |= flag;
    else cfg_.flags &= ~flag;
    write_cfg();
  }
  void set_sticky(bool on, uint32_t timeout_s = 600) {
    cfg_.sticky_timeout_s = timeout_s;
    set_cfg_flag(WANLB_CFG_F_STICKY_PAIR, on);
  }

  // Program the policy maps as the agent does and set n_policies.
  wanlb::PolicyApplyResult set_policies(const std::vector<wanlb::PolicyConfig>& policies) {
    auto r = wanlb::apply_policies(wanlb::policy_map_fds(*dp_), policies);
    cfg_.n_policies = static_cast<uint32_t>(policies.size());
    write_cfg();
    return r;
  }
  std::vector<uint64_t> policy_hits() const { return wanlb::read_policy_hits(fd(wanlb::MapId::PolHits)); }

  // Slot table from the WANs that are up, as the agent computes it.
  void rebuild_slots() { set_slots(wanlb::build_slot_table(wanlb::slot_members(wans_), WANLB_SLOT_COUNT)); }

  void set_slots(const std::vector<uint32_t>& table) {
    wanlb::sync_slots(fd(wanlb::MapId::Slots), table, &slots_);
  }
  void fill_slots(uint32_t wan_id) { set_slots(std::vector<uint32_t>(WANLB_SLOT_COUNT, wan_id)); }

  // Flip a WAN's UP flag only (the slot table is left alone).
  void set_up(uint32_t id, bool up) {
    if (up) wans_[id].flags |= WANLB_WAN_F_UP;
    else wans_[id].flags &= ~WANLB_WAN_F_UP;
    wanlb::write_wans(fd(wanlb::MapId::Wans), wans_);
  }

  void add_bypass(const std::vector<std::string>& prefixes) {
    std::vector<wanlb::BypassEntry> want;
    for (const auto& text : prefixes) {
      wanlb::BypassEntry e;
      std::string why;
      if (!wanlb::parse_prefix(text, &e.prefix, &why)) throw std::invalid_argument(text + ": " + why);
      e.origin = WANLB_BYPASS_CONFIG;
      want.push_back(e);
    }
    wanlb::sync_bypass(fd(wanlb::MapId::Bypass4), fd(wanlb::MapId::Bypass6), want);
  }

  RunResult run(const Frame& frame, uint32_t initial_mark = 0) {
    wanlb::SkbRun r = wanlb::run_skb(dp_->prog_fd(), frame, initial_mark);
    return {r.err, r.retval, r.mark};
  }

  // WAN id named by the wanlb bits of a mark (0: none).
  static uint32_t wan_of(uint32_t mark) { return (mark & kMarkMask) >> 16; }

  // Run a frame that must run and return TC_ACT_OK; its WAN id (0: no mark).
  uint32_t wan(const Frame& frame) {
    RunResult r = run(frame);
    EXPECT_EQ(r.err, 0);
    EXPECT_EQ(r.retval, 0u);  // TC_ACT_OK
    return wan_of(r.mark);
  }

  std::vector<wanlb::FlowEntry> flows() const { return wanlb::read_flows(fd(wanlb::MapId::Flows)); }
  std::vector<uint64_t> counters() const { return wanlb::read_counters(fd(wanlb::MapId::Counters)); }
  uint64_t counter(wanlb_counter c) const { return counters()[c]; }
  std::vector<wanlb_wan_stats> wan_stats() const { return wanlb::read_wan_stats(fd(wanlb::MapId::WanStats)); }

  std::unique_ptr<wanlb::Datapath> dp_;
  std::vector<std::string> log_;
  std::vector<wanlb_wan> wans_;
  std::vector<uint32_t> slots_;  // what the slots map holds
  wanlb_config cfg_{};
};

}  // namespace wanlb_test
