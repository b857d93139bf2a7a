#include "policy_maps.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#ifndef ENOTSUPP
#define ENOTSUPP 524  // kernel-internal "operation not supported", seen by user space as is
#endif

namespace wanlb {

namespace {

[[noreturn]] void fail(const std::string& what, int err) {
  throw std::runtime_error(what + ": " + std::strerror(err < 0 ? -err : err));
}

int addr_bits(int family) { return family == AF_INET6 ? 128 : 32; }

// Clear the host bits of p.
void mask_host_bits(Prefix* p) {
  int len = std::min<int>(p->len, addr_bits(p->addr.family));
  p->len = static_cast<uint8_t>(len);
  for (int byte = 0; byte < 16; byte++) {
    int keep = len - byte * 8;
    if (keep >= 8) continue;
    p->addr.bytes[byte] = keep <= 0 ? 0 : static_cast<uint8_t>(p->addr.bytes[byte] & (0xff << (8 - keep)));
  }
}

// Pre-order of the prefix tree: by address, then shorter first.
bool prefix_less(const Prefix& a, const Prefix& b) {
  int c = std::memcmp(a.addr.bytes.data(), b.addr.bytes.data(), 16);
  return c != 0 ? c < 0 : a.len < b.len;
}

bool same_prefix(const Prefix& a, const Prefix& b) { return a.len == b.len && a.addr.bytes == b.addr.bytes; }

// Does `outer` contain `inner` (same family assumed, outer normalised)?
bool covers(const Prefix& outer, const Prefix& inner) {
  if (outer.len > inner.len) return false;
  int full = outer.len / 8, rest = outer.len % 8;
  if (std::memcmp(outer.addr.bytes.data(), inner.addr.bytes.data(), full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (outer.addr.bytes[full] & mask) == (inner.addr.bytes[full] & mask);
}

// One family: sort, merge duplicates, then walk with the stack of enclosing
// prefixes (the top is the nearest one; its bits already include all of
// its own ancestors').
std::vector<PolicyTrieEntry> union_one_family(std::vector<PolicyTrieEntry> in) {
  std::sort(in.begin(), in.end(),
            [](const PolicyTrieEntry& a, const PolicyTrieEntry& b) { return prefix_less(a.prefix, b.prefix); });
  std::vector<PolicyTrieEntry> out;
  out.reserve(in.size());
  for (const auto& e : in) {
    if (!out.empty() && same_prefix(out.back().prefix, e.prefix)) out.back().bits |= e.bits;
    else out.push_back(e);
  }
  std::vector<size_t> stack;  // indexes into out
  for (size_t i = 0; i < out.size(); i++) {
    while (!stack.empty() && !covers(out[stack.back()].prefix, out[i].prefix)) stack.pop_back();
    if (!stack.empty()) out[i].bits |= out[stack.back()].bits;
    stack.push_back(i);
  }
  return out;
}

void put(int fd, const void* key, const void* value, const char* what) {
  if (bpf_map_update_elem(fd, key, value, BPF_ANY) != 0) fail(std::string("updating ") + what, errno);
}

// Key bytes of a trie entry (struct wanlb_lpm_v4 or wanlb_lpm_v6).
struct TrieKey {
  union {
    wanlb_lpm_v4 v4;
    wanlb_lpm_v6 v6;
  };
};

TrieKey trie_key(const Prefix& p) {
  TrieKey k;
  std::memset(&k, 0, sizeof k);
  if (p.addr.family == AF_INET) {
    k.v4.prefixlen = p.len;
    std::memcpy(&k.v4.addr, p.addr.bytes.data(), 4);
  } else {
    k.v6.prefixlen = p.len;
    std::memcpy(k.v6.addr, p.addr.bytes.data(), 16);
  }
  return k;
}

Prefix prefix_of(int family, const void* key) {
  Prefix p;
  p.addr.family = family;
  if (family == AF_INET) {
    const auto* k = static_cast<const wanlb_lpm_v4*>(key);
    p.len = static_cast<uint8_t>(k->prefixlen);
    std::memcpy(p.addr.bytes.data(), &k->addr, 4);
  } else {
    const auto* k = static_cast<const wanlb_lpm_v6*>(key);
    p.len = static_cast<uint8_t>(k->prefixlen);
    std::memcpy(p.addr.bytes.data(), k->addr, 16);
  }
  return p;
}

// Write many trie entries: one batch syscall when the kernel supports batch
// updates for LPM tries, else one update per element.
void put_many(int fd, int family, const std::vector<const PolicyTrieEntry*>& entries, const char* what) {
  if (entries.empty()) return;
  const size_t key_size = family == AF_INET ? sizeof(wanlb_lpm_v4) : sizeof(wanlb_lpm_v6);
  std::vector<uint8_t> keys(entries.size() * key_size);
  std::vector<uint64_t> values(entries.size());
  for (size_t i = 0; i < entries.size(); i++) {
    TrieKey k = trie_key(entries[i]->prefix);
    std::memcpy(keys.data() + i * key_size, &k, key_size);
    values[i] = entries[i]->bits;
  }
  static int batch_works = -1;  // unknown, 0 no, 1 yes (same kernel for the whole process)
  if (batch_works != 0) {
    uint32_t count = static_cast<uint32_t>(entries.size());
    if (bpf_map_update_batch(fd, keys.data(), values.data(), &count, nullptr) == 0) {
      batch_works = 1;
      return;
    }
    if (errno != EINVAL && errno != ENOTSUPP && errno != EOPNOTSUPP) fail(std::string("updating ") + what, errno);
    batch_works = 0;  // LPM tries have no batch ops (yet): per element
  }
  for (size_t i = 0; i < entries.size(); i++) put(fd, keys.data() + i * key_size, &values[i], what);
}

}  // namespace

PolicyMapFds policy_map_fds(const Datapath& dp) {
  return {dp.map_fd(MapId::Policies), dp.map_fd(MapId::PolSrc4), dp.map_fd(MapId::PolSrc6),
          dp.map_fd(MapId::PolDst4), dp.map_fd(MapId::PolDst6)};
}

PolicyMapFds policy_map_fds(const MapFds& fds) {
  return {fds[MapId::Policies], fds[MapId::PolSrc4], fds[MapId::PolSrc6], fds[MapId::PolDst4], fds[MapId::PolDst6]};
}

std::vector<wanlb_policy> policy_entries(const std::vector<PolicyConfig>& policies,
                                         const std::vector<std::vector<uint32_t>>& wan_order) {
  if (policies.size() > WANLB_MAX_POLICIES)
    throw std::invalid_argument(std::to_string(policies.size()) + " policies, the data path holds " +
                                std::to_string(WANLB_MAX_POLICIES));
  std::vector<wanlb_policy> out(policies.size());
  for (size_t i = 0; i < policies.size(); i++) {
    const PolicyConfig& p = policies[i];
    wanlb_policy& e = out[i];
    std::memset(&e, 0, sizeof e);
    const std::string who = "policy " + (p.name.empty() ? std::to_string(i + 1) : p.name);
    if (!p.source.empty()) e.flags |= WANLB_POLICY_F_SRC;
    if (!p.destination.empty()) e.flags |= WANLB_POLICY_F_DST;
    if (p.protocol != 0) {
      e.flags |= WANLB_POLICY_F_PROTO;
      e.proto = p.protocol;
    }
    if (!p.ports.empty()) {
      if (p.ports.size() > WANLB_POLICY_MAX_PORTS)
        throw std::invalid_argument(who + ": more than " + std::to_string(WANLB_POLICY_MAX_PORTS) + " port ranges");
      e.flags |= WANLB_POLICY_F_PORTS;
      e.n_ports = static_cast<uint8_t>(p.ports.size());
      for (size_t j = 0; j < p.ports.size(); j++) e.ports[j] = {p.ports[j].lo, p.ports[j].hi};
    }
    switch (p.action) {
      case PolicyAction::Wans: e.action = WANLB_ACT_WANS; break;
      case PolicyAction::Balance: e.action = WANLB_ACT_BALANCE; break;
      case PolicyAction::Bypass: e.action = WANLB_ACT_BYPASS; break;
    }
    const std::vector<uint32_t>& ids = i < wan_order.size() && !wan_order[i].empty() ? wan_order[i] : p.wan_ids;
    if (e.action == WANLB_ACT_WANS) {
      if (ids.size() > WANLB_POLICY_MAX_WANS)
        throw std::invalid_argument(who + ": more than " + std::to_string(WANLB_POLICY_MAX_WANS) + " WANs");
      e.n_wans = static_cast<uint8_t>(ids.size());
      for (size_t j = 0; j < ids.size(); j++) {
        if (ids[j] == 0 || ids[j] > WANLB_MAX_WANS)
          throw std::invalid_argument(who + ": WAN id " + std::to_string(ids[j]) + " out of range");
        e.wans[j] = static_cast<uint8_t>(ids[j]);
      }
    }
  }
  return out;
}

void union_of_covering(std::vector<PolicyTrieEntry> in, std::vector<PolicyTrieEntry>* v4,
                       std::vector<PolicyTrieEntry>* v6) {
  std::vector<PolicyTrieEntry> in4, in6;
  for (auto& e : in) {
    if (e.prefix.addr.family != AF_INET && e.prefix.addr.family != AF_INET6)
      throw std::invalid_argument("policy prefix without an address family");
    mask_host_bits(&e.prefix);
    (e.prefix.addr.family == AF_INET ? in4 : in6).push_back(e);
  }
  *v4 = union_one_family(std::move(in4));
  *v6 = union_one_family(std::move(in6));
}

PolicyTries policy_tries(const std::vector<PolicyConfig>& policies) {
  if (policies.size() > WANLB_MAX_POLICIES)
    throw std::invalid_argument(std::to_string(policies.size()) + " policies, the data path holds " +
                                std::to_string(WANLB_MAX_POLICIES));
  std::vector<PolicyTrieEntry> src, dst;
  for (size_t i = 0; i < policies.size(); i++) {
    const uint64_t bit = 1ULL << i;
    for (const auto& p : policies[i].source) src.push_back({p, bit});
    for (const auto& p : policies[i].destination) dst.push_back({p, bit});
  }
  PolicyTries t;
  union_of_covering(std::move(src), &t.src4, &t.src6);
  union_of_covering(std::move(dst), &t.dst4, &t.dst6);
  return t;
}

std::vector<PolicyTrieEntry> read_policy_trie(int fd, int family) {
  std::vector<PolicyTrieEntry> out;
  TrieKey cur, next;
  std::memset(&cur, 0, sizeof cur);
  std::memset(&next, 0, sizeof next);
  const void* prev = nullptr;
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    PolicyTrieEntry e;
    e.prefix = prefix_of(family, &next);
    // An entry deleted between get_next_key and lookup is simply skipped.
    if (bpf_map_lookup_elem(fd, &next, &e.bits) == 0) out.push_back(e);
    cur = next;
    prev = &cur;
  }
  return out;
}

void sync_policy_trie(int fd, int family, const std::vector<PolicyTrieEntry>& want, size_t* updates,
                      size_t* deletes) {
  const char* what = family == AF_INET ? "a policy trie (IPv4)" : "a policy trie (IPv6)";
  auto less = [](const PolicyTrieEntry& a, const PolicyTrieEntry& b) { return prefix_less(a.prefix, b.prefix); };
  std::vector<PolicyTrieEntry> have = read_policy_trie(fd, family);
  std::sort(have.begin(), have.end(), less);
  std::vector<PolicyTrieEntry> wanted = want;
  std::sort(wanted.begin(), wanted.end(), less);

  std::vector<const PolicyTrieEntry*> put_list, del_list;
  size_t h = 0;
  for (const auto& w : wanted) {
    while (h < have.size() && less(have[h], w)) del_list.push_back(&have[h++]);
    if (h < have.size() && same_prefix(have[h].prefix, w.prefix)) {
      if (have[h].bits != w.bits) put_list.push_back(&w);
      h++;
    } else {
      put_list.push_back(&w);
    }
  }
  while (h < have.size()) del_list.push_back(&have[h++]);

  put_many(fd, family, put_list, what);
  for (const auto* e : del_list) {
    TrieKey k = trie_key(e->prefix);
    if (bpf_map_delete_elem(fd, &k) != 0 && errno != ENOENT) fail(std::string("deleting from ") + what, errno);
  }
  *updates = put_list.size();
  *deletes = del_list.size();
}

std::vector<wanlb_policy> read_policy_entries(int fd) {
  std::vector<wanlb_policy> out(WANLB_MAX_POLICIES);
  for (uint32_t i = 0; i < WANLB_MAX_POLICIES; i++) {
    std::memset(&out[i], 0, sizeof out[i]);
    bpf_map_lookup_elem(fd, &i, &out[i]);
  }
  return out;
}

size_t write_policy_entries(int fd, const std::vector<wanlb_policy>& entries) {
  if (entries.size() > WANLB_MAX_POLICIES) throw std::invalid_argument("more policies than the data path holds");
  std::vector<wanlb_policy> have = read_policy_entries(fd);
  size_t changed = 0;
  for (uint32_t i = 0; i < WANLB_MAX_POLICIES; i++) {
    wanlb_policy want;
    std::memset(&want, 0, sizeof want);
    if (i < entries.size()) want = entries[i];
    if (std::memcmp(&want, &have[i], sizeof want) == 0) continue;
    put(fd, &i, &want, "wanlb_policies");
    changed++;
  }
  return changed;
}

PolicyApplyResult apply_policies(const PolicyMapFds& fds, const std::vector<PolicyConfig>& policies,
                                 const std::vector<std::vector<uint32_t>>& wan_order) {
  // Compute everything first: a config the data path cannot hold changes nothing.
  std::vector<wanlb_policy> entries = policy_entries(policies, wan_order);
  PolicyTries tries = policy_tries(policies);
  PolicyApplyResult r;
  r.entries = write_policy_entries(fds.policies, entries);
  struct {
    int fd, family;
    const std::vector<PolicyTrieEntry>* want;
  } tries_of[] = {{fds.src4, AF_INET, &tries.src4},
                  {fds.src6, AF_INET6, &tries.src6},
                  {fds.dst4, AF_INET, &tries.dst4},
                  {fds.dst6, AF_INET6, &tries.dst6}};
  for (const auto& t : tries_of) {
    size_t up = 0, del = 0;
    sync_policy_trie(t.fd, t.family, *t.want, &up, &del);
    r.trie_updates += up;
    r.trie_deletes += del;
  }
  return r;
}

std::vector<uint64_t> read_policy_hits(int fd) {
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) fail("counting possible CPUs", cpus);
  std::vector<uint64_t> out(WANLB_MAX_POLICIES, 0), per_cpu(cpus);
  for (uint32_t i = 0; i < WANLB_MAX_POLICIES; i++) {
    if (bpf_map_lookup_elem(fd, &i, per_cpu.data()) != 0) continue;
    for (uint64_t v : per_cpu) out[i] += v;
  }
  return out;
}

}  // namespace wanlb
