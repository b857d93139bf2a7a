#include "datapath.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "map_io.h"
#include "wanlb_tc.skel.h"
#include "wanlb_xdp.skel.h"

namespace wanlb {

const std::array<const char*, kMapCount> kMapNames = {
    "wanlb_flows",    "wanlb_slots",    "wanlb_wans",     "wanlb_config",   "wanlb_wan_stats", "wanlb_counters",
    "wanlb_bypass4",  "wanlb_bypass6",  "wanlb_policies", "wanlb_pol_src4", "wanlb_pol_src6",  "wanlb_pol_dst4",
    "wanlb_pol_dst6", "wanlb_pol_hits", "wanlb_pairs",    "wanlb_rr"};

namespace {

[[noreturn]] void fail(const std::string& what, int err) {
  throw std::runtime_error(what + ": " + std::strerror(err < 0 ? -err : err));
}

int map_index(const char* name) {
  for (size_t i = 0; i < kMapCount; i++)
    if (std::strcmp(kMapNames[i], name) == 0) return static_cast<int>(i);
  return -1;
}

bpf_map* skel_map(wanlb_tc* skel, MapId id) {
  bpf_map* m = bpf_object__find_map_by_name(skel->obj, kMapNames[static_cast<size_t>(id)]);
  if (!m) throw std::runtime_error(std::string("skeleton has no map ") + kMapNames[static_cast<size_t>(id)]);
  return m;
}

bool map_info(int fd, bpf_map_info* info) {
  std::memset(info, 0, sizeof(*info));
  uint32_t len = sizeof(*info);
  return bpf_obj_get_info_by_fd(fd, info, &len) == 0;
}

int silent_print(libbpf_print_level, const char*, va_list) { return 0; }

// Mutes libbpf while probing interfaces: "no clsact here" is an expected
// answer, not a kernel error worth printing.
class QuietLibbpf {
 public:
  QuietLibbpf() : old_(libbpf_set_print(silent_print)) {}
  ~QuietLibbpf() { libbpf_set_print(old_); }

 private:
  libbpf_print_fn_t old_;
};

// Our filter's program id at tc ingress of ifindex, 0 if none.
uint32_t attached_prog_id(int ifindex) {
  QuietLibbpf quiet;
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = WANLB_TC_HANDLE, .priority = WANLB_TC_PRIORITY);
  if (bpf_tc_query(&hook, &opts) != 0) return 0;
  return opts.prog_id;
}

// True if program `prog_id` is wanlb's (a filter at our handle and priority
// that is not ours is left alone by adoption, status and cleanup).
bool is_our_prog(uint32_t prog_id, const char* name = kProgName) {
  Fd prog(bpf_prog_get_fd_by_id(prog_id));
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  return prog && bpf_obj_get_info_by_fd(prog.get(), &info, &len) == 0 && std::strcmp(info.name, name) == 0;
}

uint32_t prog_id_of_fd(int fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

// The XDP program attached to ifindex (any owner) and its mode flag
// (XDP_FLAGS_DRV_MODE / XDP_FLAGS_SKB_MODE / XDP_FLAGS_HW_MODE); id 0 if none.
struct XdpAttachment {
  uint32_t id = 0;
  uint32_t mode = 0;
};

XdpAttachment xdp_attachment(int ifindex) {
  QuietLibbpf quiet;
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  XdpAttachment a;
  if (bpf_xdp_query(ifindex, 0, &q) != 0) return a;
  if (q.drv_prog_id) a = {q.drv_prog_id, XDP_FLAGS_DRV_MODE};
  else if (q.skb_prog_id) a = {q.skb_prog_id, XDP_FLAGS_SKB_MODE};
  else if (q.hw_prog_id) a = {q.hw_prog_id, XDP_FLAGS_HW_MODE};
  return a;
}


// Fill `out` with the maps referenced by program `prog_id`, matched by name.
bool maps_of_prog(uint32_t prog_id, MapFds* out) {
  Fd prog(bpf_prog_get_fd_by_id(prog_id));
  if (!prog) return false;
  std::vector<uint32_t> ids(64);
  bpf_prog_info info{};
  info.nr_map_ids = static_cast<uint32_t>(ids.size());
  info.map_ids = reinterpret_cast<uint64_t>(ids.data());
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog.get(), &info, &len) != 0) return false;
  if (std::strcmp(info.name, kProgName) != 0) return false;
  for (uint32_t i = 0; i < info.nr_map_ids && i < ids.size(); i++) {
    Fd map(bpf_map_get_fd_by_id(ids[i]));
    bpf_map_info mi;
    if (!map || !map_info(map.get(), &mi)) continue;
    int idx = map_index(mi.name);
    if (idx >= 0) out->fds[idx] = std::move(map);
  }
  return out->complete();
}

bool maps_from_pins(const std::string& dir, MapFds* out) {
  for (size_t i = 0; i < kMapCount; i++) {
    out->fds[i] = Fd(bpf_obj_get((dir + "/" + kMapNames[i]).c_str()));
    if (!out->fds[i]) return false;
  }
  return true;
}

// Same type, key and value size, flags: the program can use the old map.
bool same_layout(const bpf_map_info& have, bpf_map* want) {
  return have.type == bpf_map__type(want) && have.key_size == bpf_map__key_size(want) &&
         have.value_size == bpf_map__value_size(want) && have.map_flags == bpf_map__map_flags(want);
}

// Every entry of one hash map into another of the same layout.
void copy_entries(int from_fd, int to_fd, uint32_t key_size, uint32_t value_size) {
  std::vector<uint8_t> key(key_size), next(key_size), value(value_size);
  for (void* prev = nullptr; bpf_map_get_next_key(from_fd, prev, next.data()) == 0; prev = key.data()) {
    key.swap(next);
    if (bpf_map_lookup_elem(from_fd, key.data(), value.data()) == 0)
      bpf_map_update_elem(to_fd, key.data(), value.data(), BPF_ANY);
  }
}

}  // namespace

Fd::~Fd() {
  if (fd_ >= 0) close(fd_);
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.release();
  }
  return *this;
}

bool MapFds::complete() const {
  for (const auto& f : fds)
    if (!f) return false;
  return true;
}

std::vector<int> find_attachments() {
  std::vector<int> out;
  struct if_nameindex* all = if_nameindex();
  if (!all) return out;
  for (auto* i = all; i->if_index != 0; i++)
    if (uint32_t id = attached_prog_id(static_cast<int>(i->if_index)); id != 0 && is_our_prog(id))
      out.push_back(static_cast<int>(i->if_index));
  if_freenameindex(all);
  return out;
}

bool open_running_maps(const std::string& bpffs_dir, MapFds* out, std::string* source) {
  if (maps_from_pins(bpffs_dir, out)) {
    *source = "pins under " + bpffs_dir;
    return true;
  }
  for (int ifindex : find_attachments()) {
    MapFds fds;
    if (!maps_of_prog(attached_prog_id(ifindex), &fds)) continue;
    char name[IF_NAMESIZE] = {};
    if_indextoname(static_cast<unsigned>(ifindex), name);
    *source = std::string("program attached to ") + name;
    *out = std::move(fds);
    return true;
  }
  return false;
}

Datapath::Datapath(uint32_t flow_table_size, uint32_t pair_table_size, const MapFds* adopt,
                   std::vector<std::string>* log) {
  skel_ = wanlb_tc__open();
  if (!skel_) fail("opening the BPF skeleton", errno);
  bpf_map* flows = skel_map(skel_, MapId::Flows);
  if (int err = bpf_map__set_max_entries(flows, flow_table_size)) fail("sizing wanlb_flows", err);
  if (int err = bpf_map__set_max_entries(skel_map(skel_, MapId::Pairs), pair_table_size)) fail("sizing wanlb_pairs", err);

  // Resized maps whose entries move to the new one: the flows, and the
  // pairs when both tables are for `sticky: pair` (a 1-entry table is unused).
  std::vector<std::pair<MapId, int>> migrate;
  for (size_t i = 0; adopt && i < kMapCount; i++) {
    MapId id = static_cast<MapId>(i);
    bpf_map* want = skel_map(skel_, id);
    bpf_map_info have;
    if (!adopt->fds[i] || !map_info(adopt->fds[i].get(), &have)) continue;
    if (!same_layout(have, want)) {
      log->push_back(std::string("map ") + kMapNames[i] + " changed layout: recreated empty");
      continue;
    }
    if (have.max_entries != bpf_map__max_entries(want)) {
      bool copied = id == MapId::Flows ||
                    (id == MapId::Pairs && pair_table_size > kPairsOffEntries && have.max_entries > kPairsOffEntries);
      if (copied) migrate.emplace_back(id, adopt->fds[i].get());
      log->push_back(std::string("map ") + kMapNames[i] + " resized " + std::to_string(have.max_entries) + " -> " +
                     std::to_string(bpf_map__max_entries(want)) + (copied ? ": entries copied" : ": recreated empty"));
      continue;
    }
    if (int err = bpf_map__reuse_fd(want, adopt->fds[i].get())) fail(std::string("reusing ") + kMapNames[i], err);
  }

  if (int err = wanlb_tc__load(skel_)) {
    wanlb_tc__destroy(skel_);
    skel_ = nullptr;
    fail("loading the BPF program (see the verifier log above)", err);
  }
  for (const auto& [id, from] : migrate) {
    bpf_map* m = skel_map(skel_, id);
    copy_entries(from, bpf_map__fd(m), bpf_map__key_size(m), bpf_map__value_size(m));
  }

  // Populated now: a failover's writes then take no page fault.
  bpf_map* slots = skel_map(skel_, MapId::Slots);
  const size_t page = static_cast<size_t>(getpagesize());
  slots_.stride = (bpf_map__value_size(slots) + 7) / 8 * 8;  // the kernel's array element size
  slots_len_ = (bpf_map__max_entries(slots) * slots_.stride + page - 1) / page * page;
  void* p = mmap(nullptr, slots_len_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, bpf_map__fd(slots), 0);
  if (p == MAP_FAILED) {
    int err = errno;
    wanlb_tc__destroy(skel_);
    skel_ = nullptr;
    fail("mapping wanlb_slots", err);
  }
  slots_.base = static_cast<uint8_t*>(p);
}

Datapath::~Datapath() {
  if (slots_.base) munmap(slots_.base, slots_len_);
  if (xdp_skel_) wanlb_xdp__destroy(xdp_skel_);
  if (skel_) wanlb_tc__destroy(skel_);
}

bool Datapath::load_xdp(bool quiet) {
  if (xdp_tried_) return xdp_skel_ != nullptr;
  xdp_tried_ = true;
  std::optional<QuietLibbpf> mute;
  if (quiet) mute.emplace();  // nobody asked for XDP yet: no verifier log on stderr
  xdp_skel_ = wanlb_xdp__open();
  if (!xdp_skel_) {
    xdp_error_ = std::string("opening the XDP skeleton: ") + std::strerror(errno);
    return false;
  }
  // Every map of the XDP object is the tc skeleton's (same names, bpf/maps.h).
  bpf_map* m;
  bpf_object__for_each_map(m, xdp_skel_->obj) {
    bpf_map* mine = bpf_object__find_map_by_name(skel_->obj, bpf_map__name(m));
    int err = mine ? bpf_map__reuse_fd(m, bpf_map__fd(mine)) : -ENOENT;
    if (err) {
      xdp_error_ = std::string("sharing map ") + bpf_map__name(m) + " with the XDP program: " + std::strerror(-err);
      break;
    }
  }
  if (xdp_error_.empty())
    if (int err = wanlb_xdp__load(xdp_skel_))
      xdp_error_ = std::string("loading the XDP program: ") + std::strerror(-err);
  if (!xdp_error_.empty()) {
    wanlb_xdp__destroy(xdp_skel_);
    xdp_skel_ = nullptr;
    return false;
  }
  return true;
}

int Datapath::xdp_prog_fd() { return load_xdp() ? bpf_program__fd(xdp_skel_->progs.wanlb_xdp_lan) : -1; }

bool Datapath::sync_xdp(int ifindex, bool want, std::string* msg) {
  msg->clear();
  // Loaded on the first call whether or not `want` (see load_xdp).
  int fd = load_xdp(!want) ? bpf_program__fd(xdp_skel_->progs.wanlb_xdp_lan) : -1;
  auto reported = std::find_if(xdp_reported_.begin(), xdp_reported_.end(),
                               [&](const auto& r) { return r.first == ifindex; });
  auto failed = [&](const std::string& why) {
    if (reported == xdp_reported_.end()) xdp_reported_.emplace_back(ifindex, why), *msg = why;
    else if (reported->second != why) reported->second = why, *msg = why;
    return false;
  };
  auto succeeded = [&](std::string line) {
    if (reported != xdp_reported_.end()) xdp_reported_.erase(reported);
    *msg = std::move(line);
    return true;
  };

  XdpAttachment cur = xdp_attachment(ifindex);
  uint32_t mine = fd >= 0 ? prog_id_of_fd(fd) : 0;
  bool ours = cur.id != 0 && (cur.id == mine || is_our_prog(cur.id, kXdpProgName));
  if (!want) {
    if (!ours) return succeeded("");
    int err = bpf_xdp_detach(ifindex, cur.mode, nullptr);
    if (err) return failed(std::string("detaching ") + kXdpProgName + ": " + std::strerror(-err));
    return succeeded(std::string("detached ") + kXdpProgName + " (XDP)");
  }
  if (fd < 0) return failed("XDP fast path not available: " + xdp_error_);
  if (cur.id == mine) return succeeded("");
  if (cur.id != 0 && !ours)
    return failed("another XDP program (id " + std::to_string(cur.id) +
                  ") is attached; not replacing it, the interface stays in tc mode");
  if (cur.id != 0) {
    // An older wanlb XDP program (a previous agent): swap in place, same mode.
    int err = bpf_xdp_attach(ifindex, fd, cur.mode, nullptr);
    if (err) return failed(std::string("replacing the XDP program: ") + std::strerror(-err));
    return succeeded(std::string("replaced ") + kXdpProgName + " (XDP) in place");
  }
  int err;
  {
    QuietLibbpf quiet;  // a driver without native XDP is an expected answer
    err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, nullptr);
  }
  if (err == 0) return succeeded(std::string("attached ") + kXdpProgName + " (XDP, native mode)");
  int native_err = err;
  err = bpf_xdp_attach(ifindex, fd, XDP_FLAGS_SKB_MODE, nullptr);
  if (err == 0)
    return succeeded(std::string("attached ") + kXdpProgName + " (XDP, generic mode: native refused with " +
                     std::strerror(-native_err) + ")");
  return failed(std::string("attaching the XDP program: native: ") + std::strerror(-native_err) +
                ", generic: " + std::strerror(-err));
}

uint32_t xdp_attached_prog_id(int ifindex) {
  XdpAttachment cur = xdp_attachment(ifindex);
  return cur.id != 0 && is_our_prog(cur.id, kXdpProgName) ? cur.id : 0;
}

int Datapath::map_fd(MapId id) const { return bpf_map__fd(skel_map(skel_, id)); }

uint32_t Datapath::max_entries(MapId id) const { return bpf_map__max_entries(skel_map(skel_, id)); }

MapFds Datapath::dup_maps() const {
  MapFds out;
  for (size_t i = 0; i < kMapCount; i++) out.fds[i] = Fd(fcntl(map_fd(static_cast<MapId>(i)), F_DUPFD_CLOEXEC, 0));
  return out;
}

int Datapath::prog_fd() const { return bpf_program__fd(skel_->progs.wanlb_tc_lan); }

void Datapath::pin(const std::string& dir) {
  auto pin_one = [&](int fd, const std::string& name) {
    std::string path = dir + "/" + name;
    unlink(path.c_str());  // an older pin of the same name is ours to replace
    if (bpf_obj_pin(fd, path.c_str()) != 0) fail("pinning " + path, errno);
  };
  for (size_t i = 0; i < kMapCount; i++) pin_one(map_fd(static_cast<MapId>(i)), kMapNames[i]);
  pin_one(prog_fd(), kProgName);
}

bool Datapath::attach(int ifindex) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
  bool created = false;
  int err;
  {
    QuietLibbpf quiet;  // EEXIST (clsact already there) is the common case
    err = bpf_tc_hook_create(&hook);
  }
  if (err == 0) created = true;
  else if (err != -EEXIST) fail("creating clsact on ifindex " + std::to_string(ifindex), err);

  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd(), .flags = BPF_TC_F_REPLACE, .handle = WANLB_TC_HANDLE,
              .priority = WANLB_TC_PRIORITY);
  if ((err = bpf_tc_attach(&hook, &opts)) != 0) fail("attaching to tc ingress of ifindex " + std::to_string(ifindex), err);
  return created;
}

void detach(int ifindex) {
  // XDP first: what it passes up needs the tc program to be marked.
  XdpAttachment xdp = xdp_attachment(ifindex);
  if (xdp.id != 0 && is_our_prog(xdp.id, kXdpProgName)) {
    int err = bpf_xdp_detach(ifindex, xdp.mode, nullptr);
    if (err != 0 && err != -ENODEV) fail("detaching XDP from ifindex " + std::to_string(ifindex), err);
  }
  QuietLibbpf quiet;
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
  LIBBPF_OPTS(bpf_tc_opts, opts, .handle = WANLB_TC_HANDLE, .priority = WANLB_TC_PRIORITY);
  int err = bpf_tc_detach(&hook, &opts);
  if (err != 0 && err != -ENOENT && err != -EINVAL && err != -ENODEV)
    fail("detaching from tc ingress of ifindex " + std::to_string(ifindex), err);
}

void destroy_clsact(int ifindex) {
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
              .attach_point = static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
  int err = bpf_tc_hook_destroy(&hook);
  if (err != 0 && err != -ENOENT && err != -EINVAL && err != -ENODEV)
    fail("removing clsact from ifindex " + std::to_string(ifindex), err);
}

std::vector<std::string> unpin_all(const std::string& dir) {
  std::vector<std::string> removed;
  auto unpin = [&](const std::string& name) {
    std::string path = dir + "/" + name;
    if (unlink(path.c_str()) == 0) removed.push_back(path);
  };
  for (const char* name : kMapNames) unpin(name);
  unpin(kProgName);
  if (rmdir(dir.c_str()) == 0) removed.push_back(dir);
  return removed;
}

}  // namespace wanlb
