// Reading and writing wanlb's BPF maps by fd. Used by `run` to program the
// data path and by `status`/`flows` to read it, whoever loaded it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "wanlb/dp_shared.h"

namespace wanlb {

struct FlowEntry {
  wanlb_flow_key key;
  wanlb_flow value;
};

// A bypass prefix and why it is there (WANLB_BYPASS_* bits).
struct BypassEntry {
  Prefix prefix;
  uint32_t origin = 0;
};

void write_config(int fd, const wanlb_config& cfg);
std::optional<wanlb_config> read_config(int fd);

// Index = WAN id; entry 0 unused. Writes every id (zeroes the unused ones).
void write_wans(int fd, const std::vector<wanlb_wan>& by_id);
std::vector<wanlb_wan> read_wans(int fd);

// A BPF array map mapped into this process (BPF_F_MMAPABLE): element i is
// at base + i * stride, the kernel's element size (the value size rounded
// up to 8 bytes: a u32 slot takes 8).
struct MappedArray {
  uint8_t* base = nullptr;
  size_t stride = 0;
  uint32_t* u32(uint32_t i) const { return reinterpret_cast<uint32_t*>(base + i * stride); }
};

// Write only the entries that differ from `table`; returns how many changed.
// Each entry is one atomic 4-byte store, so a packet sees the old or the new
// WAN of a slot, never something in between. `current` caches what the map
// holds (read from the map when empty) so a failover costs only the writes.
// `mapped`: the map's memory (Datapath::slots_mapped()), written directly
// (well under a millisecond for a whole table, against about 1.5 ms per
// 10000 slots for one batched update syscall); without it, one batched update.
size_t sync_slots(int fd, const std::vector<uint32_t>& table, std::vector<uint32_t>* current,
                  const MappedArray* mapped = nullptr);
void write_wan(int fd, uint32_t id, const wanlb_wan& wan);
std::vector<uint32_t> read_slots(int fd);

// Per-CPU values summed over possible CPUs.
std::vector<wanlb_wan_stats> read_wan_stats(int fd);  // index = WAN id
std::vector<uint64_t> read_counters(int fd);           // index = enum wanlb_counter

std::vector<FlowEntry> read_flows(int fd);
// Delete flows whose key matches; returns how many were deleted.
size_t delete_flows_if(int fd, const std::function<bool(const FlowEntry&)>& pred);

// Make the two LPM tries hold exactly `want`; returns the number of changes.
size_t sync_bypass(int fd4, int fd6, const std::vector<BypassEntry>& want);
std::vector<BypassEntry> read_bypass(int fd4, int fd6);

// Longest-prefix match of an address against entries (user-space mirror of
// the data path's lookup; used to purge flows to newly bypassed places).
bool prefix_contains(const Prefix& p, int family, const uint8_t* addr16);

std::string flow_addr_str(int family, const __be32 addr[4]);

}  // namespace wanlb
