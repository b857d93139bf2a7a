#include "map_io.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>

namespace wanlb {

namespace {

[[noreturn]] void fail(const std::string& what, int err) {
  throw std::runtime_error(what + ": " + std::strerror(err < 0 ? -err : err));
}

void update(int fd, const void* key, const void* value, const char* what) {
  if (bpf_map_update_elem(fd, key, value, BPF_ANY) != 0) fail(std::string("updating ") + what, errno);
}

int possible_cpus() {
  int n = libbpf_num_possible_cpus();
  if (n <= 0) fail("counting possible CPUs", n);
  return n;
}

// Walk every key of a hash or trie map; `fn` gets each key.
template <typename Key>
void for_each_key(int fd, const std::function<void(const Key&)>& fn) {
  Key cur{}, next{};
  const Key* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    fn(next);
    cur = next;
    prev = &cur;
  }
}

// A stable key for comparing prefixes: family, length, bytes.
std::string prefix_id(const Prefix& p) {
  std::string id(1, static_cast<char>(p.addr.family));
  id += static_cast<char>(p.len);
  id.append(reinterpret_cast<const char*>(p.addr.bytes.data()), 16);
  return id;
}

}  // namespace

void write_config(int fd, const wanlb_config& cfg) {
  uint32_t zero = 0;
  update(fd, &zero, &cfg, "wanlb_config");
}

std::optional<wanlb_config> read_config(int fd) {
  uint32_t zero = 0;
  wanlb_config cfg{};
  if (bpf_map_lookup_elem(fd, &zero, &cfg) != 0) return std::nullopt;
  return cfg;
}

void write_wans(int fd, const std::vector<wanlb_wan>& by_id) {
  for (uint32_t id = 0; id <= WANLB_MAX_WANS; id++) {
    wanlb_wan w{};
    if (id < by_id.size()) w = by_id[id];
    write_wan(fd, id, w);
  }
}

std::vector<wanlb_wan> read_wans(int fd) {
  std::vector<wanlb_wan> out(WANLB_MAX_WANS + 1);
  for (uint32_t id = 0; id <= WANLB_MAX_WANS; id++) bpf_map_lookup_elem(fd, &id, &out[id]);
  return out;
}

size_t sync_slots(int fd, const std::vector<uint32_t>& table, std::vector<uint32_t>* current,
                  const MappedArray* mapped) {
  if (current->size() != table.size()) {
    if (mapped) {
      current->resize(WANLB_SLOT_COUNT);
      for (uint32_t slot = 0; slot < WANLB_SLOT_COUNT; slot++)
        (*current)[slot] = __atomic_load_n(mapped->u32(slot), __ATOMIC_RELAXED);
    } else {
      *current = read_slots(fd);
    }
  }
  if (mapped) {
    size_t changed = 0;
    // Fences: the WAN entries written before (through the bpf syscall) are
    // visible before any slot names them, and the slots before what follows.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    for (uint32_t slot = 0; slot < table.size() && slot < current->size(); slot++) {
      if ((*current)[slot] == table[slot]) continue;
      __atomic_store_n(mapped->u32(slot), table[slot], __ATOMIC_RELAXED);
      (*current)[slot] = table[slot];
      changed++;
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return changed;
  }
  std::vector<uint32_t> keys, values;
  for (uint32_t slot = 0; slot < table.size() && slot < current->size(); slot++) {
    if ((*current)[slot] == table[slot]) continue;
    keys.push_back(slot);
    values.push_back(table[slot]);
  }
  if (keys.empty()) return 0;
  // One syscall for the whole change (a failover rewrites up to the whole
  // table); each element is still written as one 4-byte store.
  uint32_t count = static_cast<uint32_t>(keys.size());
  if (bpf_map_update_batch(fd, keys.data(), values.data(), &count, nullptr) != 0) {
    for (size_t i = count; i < keys.size(); i++) update(fd, &keys[i], &values[i], "wanlb_slots");
  }
  for (size_t i = 0; i < keys.size(); i++) (*current)[keys[i]] = values[i];
  return keys.size();
}

void write_wan(int fd, uint32_t id, const wanlb_wan& wan) { update(fd, &id, &wan, "wanlb_wans"); }

std::vector<uint32_t> read_slots(int fd) {
  std::vector<uint32_t> out(WANLB_SLOT_COUNT, 0);
  for (uint32_t slot = 0; slot < WANLB_SLOT_COUNT; slot++) bpf_map_lookup_elem(fd, &slot, &out[slot]);
  return out;
}

std::vector<wanlb_wan_stats> read_wan_stats(int fd) {
  int cpus = possible_cpus();
  std::vector<wanlb_wan_stats> out(WANLB_MAX_WANS + 1), per_cpu(cpus);
  for (uint32_t id = 0; id <= WANLB_MAX_WANS; id++) {
    if (bpf_map_lookup_elem(fd, &id, per_cpu.data()) != 0) continue;
    for (const auto& s : per_cpu) {
      out[id].packets += s.packets;
      out[id].bytes += s.bytes;
      out[id].new_flows += s.new_flows;
    }
  }
  return out;
}

std::vector<uint64_t> read_counters(int fd) {
  int cpus = possible_cpus();
  std::vector<uint64_t> out(WANLB_CNT_COUNT, 0), per_cpu(cpus);
  for (uint32_t i = 0; i < WANLB_CNT_COUNT; i++) {
    if (bpf_map_lookup_elem(fd, &i, per_cpu.data()) != 0) continue;
    for (uint64_t v : per_cpu) out[i] += v;
  }
  return out;
}

std::vector<FlowEntry> read_flows(int fd) {
  std::vector<FlowEntry> out;
  for_each_key<wanlb_flow_key>(fd, [&](const wanlb_flow_key& k) {
    FlowEntry e{k, {}};
    // A flow evicted between get_next_key and lookup is simply skipped.
    if (bpf_map_lookup_elem(fd, &k, &e.value) == 0) out.push_back(e);
  });
  return out;
}

size_t delete_flows_if(int fd, const std::function<bool(const FlowEntry&)>& pred) {
  size_t n = 0;
  for (const auto& e : read_flows(fd))
    if (pred(e) && bpf_map_delete_elem(fd, &e.key) == 0) n++;
  return n;
}

std::vector<BypassEntry> read_bypass(int fd4, int fd6) {
  std::vector<BypassEntry> out;
  for_each_key<wanlb_lpm_v4>(fd4, [&](const wanlb_lpm_v4& k) {
    BypassEntry e;
    e.prefix.addr.family = AF_INET;
    std::memcpy(e.prefix.addr.bytes.data(), &k.addr, 4);
    e.prefix.len = static_cast<uint8_t>(k.prefixlen);
    if (bpf_map_lookup_elem(fd4, &k, &e.origin) == 0) out.push_back(e);
  });
  for_each_key<wanlb_lpm_v6>(fd6, [&](const wanlb_lpm_v6& k) {
    BypassEntry e;
    e.prefix.addr.family = AF_INET6;
    std::memcpy(e.prefix.addr.bytes.data(), k.addr, 16);
    e.prefix.len = static_cast<uint8_t>(k.prefixlen);
    if (bpf_map_lookup_elem(fd6, &k, &e.origin) == 0) out.push_back(e);
  });
  return out;
}

namespace {
void bypass_put(int fd4, int fd6, const Prefix& p, const uint32_t* origin) {
  if (p.addr.family == AF_INET) {
    wanlb_lpm_v4 k{p.len, 0};
    std::memcpy(&k.addr, p.addr.bytes.data(), 4);
    int rc = origin ? bpf_map_update_elem(fd4, &k, origin, BPF_ANY) : bpf_map_delete_elem(fd4, &k);
    if (rc != 0) fail("updating wanlb_bypass4 " + p.str(), errno);
  } else {
    wanlb_lpm_v6 k{p.len, {}};
    std::memcpy(k.addr, p.addr.bytes.data(), 16);
    int rc = origin ? bpf_map_update_elem(fd6, &k, origin, BPF_ANY) : bpf_map_delete_elem(fd6, &k);
    if (rc != 0) fail("updating wanlb_bypass6 " + p.str(), errno);
  }
}
}  // namespace

size_t sync_bypass(int fd4, int fd6, const std::vector<BypassEntry>& want) {
  std::map<std::string, BypassEntry> wanted, have;
  for (const auto& e : want) {
    auto& slot = wanted[prefix_id(e.prefix)];
    slot.prefix = e.prefix;
    slot.origin |= e.origin;  // the same prefix may be configured and connected
  }
  for (const auto& e : read_bypass(fd4, fd6)) have[prefix_id(e.prefix)] = e;

  size_t changes = 0;
  for (const auto& [id, e] : wanted) {
    auto it = have.find(id);
    if (it != have.end() && it->second.origin == e.origin) continue;
    bypass_put(fd4, fd6, e.prefix, &e.origin);
    changes++;
  }
  for (const auto& [id, e] : have) {
    if (wanted.count(id)) continue;
    bypass_put(fd4, fd6, e.prefix, nullptr);
    changes++;
  }
  return changes;
}

bool prefix_contains(const Prefix& p, int family, const uint8_t* addr16) {
  if (p.addr.family != family) return false;
  int full = p.len / 8, rest = p.len % 8;
  if (std::memcmp(p.addr.bytes.data(), addr16, full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (p.addr.bytes[full] & mask) == (addr16[full] & mask);
}

std::string flow_addr_str(int family, const __be32 addr[4]) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, buf, sizeof(buf));
  return buf;
}

}  // namespace wanlb
