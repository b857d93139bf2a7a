// Policies in the data path's maps: the wanlb_policies array and the four
// prefix tries (wanlb_pol_src4/src6/dst4/dst6).
//
// The data path looks each trie up once per new connection (longest match)
// and needs, from that single answer, every policy that contains the
// address. So the value stored for a prefix is not only its own policies'
// bits but the union over every configured prefix that covers it (itself
// included): with policy 0 = 10.0.0.0/8 and policy 1 = 10.1.0.0/16, the
// entry 10.1.0.0/16 holds bits 0 and 1, and 10.1.2.3 matches policy 0
// first, as the ordered list says.
//
// Pure computation (policy_entries, policy_tries) is separate from the map
// writes (apply_policies, write_policy_entries) so that it can be unit
// tested without privileges.
//
// Typical use by the agent:
//   apply_policies(policy_map_fds(dp), cfg.policies);            // config (re)load
//   write_policy_entries(fds.policies, policy_entries(cfg.policies, order));  // lowest-rtt reorder
// and write wanlb_config.n_policies = cfg.policies.size() after apply_policies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "config.h"
#include "datapath.h"
#include "wanlb/dp_shared.h"

namespace wanlb {

// A trie entry: a prefix and the bitmask of the policies that contain it
// (bit i = policies[i]).
struct PolicyTrieEntry {
  Prefix prefix;
  uint64_t bits = 0;
  bool operator==(const PolicyTrieEntry& o) const { return prefix == o.prefix && bits == o.bits; }
};

// Contents of the four tries, each sorted by (address, length): an
// enclosing prefix comes before the prefixes it contains.
struct PolicyTries {
  std::vector<PolicyTrieEntry> src4, src6, dst4, dst6;
  size_t size() const { return src4.size() + src6.size() + dst4.size() + dst6.size(); }
};

// The map fds apply_policies writes.
struct PolicyMapFds {
  int policies = -1;  // wanlb_policies
  int src4 = -1, src6 = -1, dst4 = -1, dst6 = -1;
};
PolicyMapFds policy_map_fds(const Datapath& dp);
PolicyMapFds policy_map_fds(const MapFds& fds);

// wanlb_policies entries, index = position in `policies`. `wan_order`, when
// it has an element for policy i that is not empty, replaces that policy's
// wan_ids (the agent's `order: lowest-rtt` sorting); otherwise wan_ids is
// used. Throws std::invalid_argument beyond the data path's limits (more
// than WANLB_MAX_POLICIES policies, WANLB_POLICY_MAX_WANS WANs or
// WANLB_POLICY_MAX_PORTS port ranges, a WAN id above WANLB_MAX_WANS).
std::vector<wanlb_policy> policy_entries(const std::vector<PolicyConfig>& policies,
                                         const std::vector<std::vector<uint32_t>>& wan_order = {});

// Trie contents: every distinct prefix of every policy (per family and
// direction), valued with the union of the bits of all prefixes that
// contain it. O(n log n): sort, then one walk with a stack of the enclosing
// prefixes. Host bits are ignored (masked).
PolicyTries policy_tries(const std::vector<PolicyConfig>& policies);

// Same computation for one list of (prefix, policy bits) pairs, mixed
// families allowed; returns the v4 and v6 entries. Exposed for tests.
void union_of_covering(std::vector<PolicyTrieEntry> in, std::vector<PolicyTrieEntry>* v4,
                       std::vector<PolicyTrieEntry>* v6);

struct PolicyApplyResult {
  size_t entries = 0;        // wanlb_policies entries that changed
  size_t trie_updates = 0;   // trie elements added or changed
  size_t trie_deletes = 0;   // trie elements removed
};

// Program a data path with `policies`: make the WANLB_MAX_POLICIES entries
// of wanlb_policies hold policy_entries() (unused ones zeroed; only changed
// entries are written) and make each trie hold
// exactly policy_tries(policies) (adds and changes first, then deletions,
// so an address that stays covered never loses its entry in between).
// The caller writes wanlb_config.n_policies afterwards. Not atomic as a
// whole: during a reload a new connection may meet a mix of old and new
// policies for the few milliseconds the writes take. Throws
// std::runtime_error when the kernel refuses a write.
PolicyApplyResult apply_policies(const PolicyMapFds& fds, const std::vector<PolicyConfig>& policies,
                                 const std::vector<std::vector<uint32_t>>& wan_order = {});

// Rewrite the wanlb_policies entries that differ from `entries` (e.g. only
// a WAN order changed); the tries are untouched. Returns how many changed.
size_t write_policy_entries(int fd, const std::vector<wanlb_policy>& entries);

// Make one trie hold exactly `want` (entries of `family`). Returns the
// number of updates and deletions through the out-parameters.
void sync_policy_trie(int fd, int family, const std::vector<PolicyTrieEntry>& want, size_t* updates,
                      size_t* deletes);

std::vector<PolicyTrieEntry> read_policy_trie(int fd, int family);
std::vector<wanlb_policy> read_policy_entries(int fd);
// Per-policy hit counters (wanlb_pol_hits) summed over CPUs.
std::vector<uint64_t> read_policy_hits(int fd);

}  // namespace wanlb
