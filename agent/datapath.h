// The loaded BPF data path: skeleton lifetime, adoption of a running data
// path's maps, pinning, and tc attachment.
//
// Restart without loss works like this: the tc filter keeps the program (and
// through it every map) alive after the agent exits. A new agent finds those
// maps — from pins, or from the program attached to a LAN interface when the
// pins are not visible (a fresh `ip netns exec` has an empty /sys/fs/bpf) —
// loads its program against the same maps, and swaps it into the filter in
// place (BPF_TC_F_REPLACE): no packet ever meets an empty hook.
//
// LAN interfaces in `mode: xdp` also get the XDP fast path (bpf/wanlb_xdp.bpf.c),
// loaded from its own skeleton on the very same maps (bpf_map__reuse_fd of
// every map of the tc skeleton), so both programs read and write one flow
// table, one set of counters. The tc program stays attached there too: it
// finishes what XDP passes up to the stack.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "map_io.h"

struct wanlb_tc;   // bpftool-generated skeletons
struct wanlb_xdp;

namespace wanlb {

// The maps of bpf/maps.h, by role. Order is the order of kMapNames.
enum class MapId {
  Flows, Slots, Wans, Config, WanStats, Counters, Bypass4, Bypass6,
  Policies,   // wanlb_policies: the ordered policy list (wanlb_policy)
  PolSrc4,    // wanlb_pol_src4 .. wanlb_pol_dst6: prefix -> bitmask of policies
  PolSrc6,
  PolDst4,
  PolDst6,
  PolHits,    // wanlb_pol_hits: per-CPU new connections decided per policy
  Pairs,      // wanlb_pairs: sticky address pairs (pair_table_size)
  Rr,         // wanlb_rr: round-robin counter
};
constexpr size_t kMapCount = 16;
extern const std::array<const char*, kMapCount> kMapNames;  // "wanlb_flows", ...
constexpr const char* kProgName = "wanlb_tc_lan";
constexpr const char* kXdpProgName = "wanlb_xdp_lan";

// A move-only file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { int f = fd_; fd_ = -1; return f; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

struct MapFds {
  std::array<Fd, kMapCount> fds;
  int operator[](MapId id) const { return fds[static_cast<size_t>(id)].get(); }
  bool complete() const;
};

// Maps of the data path already running in this network namespace: from
// pins under `bpffs_dir` if they are all there, else from our program
// attached to any interface. `source` says which ("pins under DIR",
// "program attached to lan0"). False if there is none.
bool open_running_maps(const std::string& bpffs_dir, MapFds* out, std::string* source);

// Interfaces (ifindex) where our program is attached at tc ingress.
std::vector<int> find_attachments();

// Entries of wanlb_pairs: one per flow with `sticky: pair` (a flow has one
// address pair), else 1. The map is a preallocated LRU hash, so its size is
// memory paid whether or not the data path ever writes it: as large as the
// flow table it would double the memory per flow for nothing. Its size is
// fixed when the program is loaded, so only a restart turns sticky pairs on
// (see check_reloadable).
constexpr uint32_t kPairsOffEntries = 1;
inline uint32_t pair_table_size(bool sticky_pair, uint32_t flow_table_size) {
  return sticky_pair ? flow_table_size : kPairsOffEntries;
}

class Datapath {
 public:
  // Open and load the skeleton with wanlb_flows of `flow_table_size` and
  // wanlb_pairs of `pair_table_size` entries. Maps of `adopt` are reused
  // when their layout and size match; when only the size differs, the map is
  // recreated at the new size and the flows (and the pairs, when both pair
  // tables are for `sticky: pair`) are copied over; anything else is
  // recreated empty. One log line per decision goes to `log`.
  Datapath(uint32_t flow_table_size, uint32_t pair_table_size, const MapFds* adopt, std::vector<std::string>* log);
  ~Datapath();
  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;

  int map_fd(MapId id) const;
  uint32_t max_entries(MapId id) const;
  // wanlb_slots mapped into this process (BPF_F_MMAPABLE), for sync_slots.
  const MappedArray* slots_mapped() const { return &slots_; }
  // Duplicates of every map fd (for readers that outlive a call, e.g. the
  // metrics thread, and for status_json).
  MapFds dup_maps() const;
  int prog_fd() const;
  // Pin every map and the program under `dir` (replacing older pins).
  void pin(const std::string& dir);
  // Attach (or atomically replace) our filter at tc ingress of `ifindex`.
  // Returns true if it had to create the clsact qdisc.
  bool attach(int ifindex);

  // The XDP program (bpf/wanlb_xdp.bpf.c) on the same maps as the tc
  // program. Loaded on first use (tests of the tc program never pay for its
  // verification); the agent's first sync_xdp() call, in start(), loads it
  // while the agent still may load programs, whatever the LAN modes, so a
  // reload can switch an interface to `mode: xdp` later. False / -1 when it
  // cannot be loaded (xdp_error() says why; tc mode still works).
  bool load_xdp(bool quiet = false);  // quiet: no libbpf log on failure
  int xdp_prog_fd();
  const std::string& xdp_error() const { return xdp_error_; }
  // Make our XDP program attached to `ifindex` (want) or not (!want):
  // attach it (native mode, else generic), replace an older wanlb XDP
  // program in place, or detach ours. Another XDP program on the interface
  // is never replaced. Returns false on failure. *msg: a line worth logging
  // (a change, or a failure not reported for this interface before), or "".
  bool sync_xdp(int ifindex, bool want, std::string* msg);

 private:
  wanlb_tc* skel_ = nullptr;
  wanlb_xdp* xdp_skel_ = nullptr;
  MappedArray slots_;  // mapping of wanlb_slots
  size_t slots_len_ = 0;
  bool xdp_tried_ = false;
  std::string xdp_error_;
  std::vector<std::pair<int, std::string>> xdp_reported_;  // ifindex -> last failure logged
};

// Remove our tc filter and our XDP program (if any) from `ifindex` (no
// error if absent).
void detach(int ifindex);
// The id of wanlb's XDP program attached to `ifindex`, 0 if none.
uint32_t xdp_attached_prog_id(int ifindex);
// Destroy the clsact qdisc of `ifindex` (only for qdiscs wanlb created).
void destroy_clsact(int ifindex);
// Remove exactly the pins wanlb makes under `dir`, then `dir` if empty.
// Returns the paths removed.
std::vector<std::string> unpin_all(const std::string& dir);

}  // namespace wanlb
