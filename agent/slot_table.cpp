// Weighted Maglev slot table. See slot_table.h for the contract.
//
// Design notes (why, not what):
// - Permutations are seeded from member NAMES with a hash implemented here,
//   because std::hash is not stable across builds/libraries and the table must
//   be the same after an agent restart or upgrade (otherwise every flow that
//   has no conntrack entry yet would move).
// - Members are sorted by name before anything else so that the order of the
//   config file does not matter.
// - Weights are honoured exactly: each member receives exactly its
//   largest-remainder quota. The fill order is stride scheduling (the member
//   least far along its quota goes next), which interleaves members the way
//   plain Maglev's round robin does for equal weights, and so keeps Maglev's
//   minimal-disruption property for weighted members too.
#include "slot_table.h"

#include "wanlb/dp_shared.h"

#include <algorithm>
#include <numeric>
#include <queue>
#include <stdexcept>
#include <unordered_set>

namespace wanlb {
namespace {

// FNV-1a 64: tiny, well defined, byte-order independent.
uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

// splitmix64 finaliser: FNV-1a mixes short, similar names ("wan1", "wan2")
// poorly in its low bits, and we take the result modulo the table size.
uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Two independent hashes of one name: distinct seeds give unrelated outputs.
uint64_t name_hash(const std::string& name, uint64_t seed) { return mix64(fnv1a64(name) ^ seed); }

constexpr uint64_t kOffsetSeed = 0x6f66667365743031ULL;  // "offset01"
constexpr uint64_t kSkipSeed = 0x736b697070657230ULL;    // "skipper0"

bool is_prime(uint32_t n) {
  if (n < 2) return false;
  for (uint64_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

// Rejects inputs for which "exact quota per member" or "value = member id"
// would be meaningless: weight 0 (no share; also W could be 0), id 0 (reads
// as an empty slot in the data path), duplicate ids or names (two members
// would share a permutation or be indistinguishable in the table).
void validate_members(const std::vector<SlotMember>& members) {
  std::unordered_set<uint32_t> ids;
  std::unordered_set<std::string> names;
  for (const auto& m : members) {
    if (m.weight == 0) throw std::invalid_argument("slot table: member '" + m.name + "' has weight 0");
    if (m.id == 0) throw std::invalid_argument("slot table: member '" + m.name + "' has id 0 (reserved)");
    if (!ids.insert(m.id).second)
      throw std::invalid_argument("slot table: duplicate member id " + std::to_string(m.id));
    if (!names.insert(m.name).second)
      throw std::invalid_argument("slot table: duplicate member name '" + m.name + "'");
  }
}

// One member's walk through its Maglev permutation:
// slot_j = (offset + j * skip) mod M. With M prime and 1 <= skip < M this
// visits every slot exactly once.
struct Walker {
  uint32_t id;
  uint32_t quota;
  uint32_t filled = 0;
  uint32_t pos;
  uint32_t skip;
};

Walker make_walker(const SlotMember& m, uint32_t quota, uint32_t slot_count) {
  const uint32_t offset = static_cast<uint32_t>(name_hash(m.name, kOffsetSeed) % slot_count);
  const uint32_t skip = static_cast<uint32_t>(name_hash(m.name, kSkipSeed) % (slot_count - 1) + 1);
  return Walker{m.id, quota, 0, offset, skip};
}

// Advances the walker to its next empty slot and claims it. Termination: the
// walker's quota is not yet met, so the table has an empty slot, and the
// permutation reaches every slot.
void claim_next(Walker& w, std::vector<uint32_t>& table) {
  const uint32_t m = static_cast<uint32_t>(table.size());
  // pos, skip < m, so one conditional subtraction replaces a 64-bit modulo
  // in the hottest loop (about M ln M probes per build).
  while (table[w.pos] != 0) {
    const uint64_t next = uint64_t{w.pos} + w.skip;
    w.pos = static_cast<uint32_t>(next >= m ? next - m : next);
  }
  table[w.pos] = w.id;
  ++w.filled;
}

// Stride-scheduling order: a goes after b if a is further along its quota
// (filled_a / quota_a > filled_b / quota_b, cross-multiplied in 64 bits to
// stay exact); ties go to the lower index, i.e. the smaller name.
struct LaterTurn {
  const std::vector<Walker>* walkers;
  bool operator()(size_t a, size_t b) const {
    const Walker& wa = (*walkers)[a];
    const Walker& wb = (*walkers)[b];
    const uint64_t lhs = uint64_t{wa.filled} * wb.quota;
    const uint64_t rhs = uint64_t{wb.filled} * wa.quota;
    if (lhs != rhs) return lhs > rhs;
    return a > b;
  }
};

std::vector<SlotMember> sorted_by_name(std::vector<SlotMember> members) {
  std::sort(members.begin(), members.end(),
            [](const SlotMember& a, const SlotMember& b) { return a.name < b.name; });
  return members;
}

}  // namespace

std::vector<uint32_t> slot_quota(const std::vector<SlotMember>& members, uint32_t slot_count) {
  validate_members(members);
  if (members.empty()) return {};
  // 64-bit: slot_count * weight and the weight sum both overflow 32 bits.
  const uint64_t total = std::accumulate(members.begin(), members.end(), uint64_t{0},
                                         [](uint64_t s, const SlotMember& m) { return s + m.weight; });
  std::vector<uint32_t> quota(members.size());
  std::vector<uint64_t> remainder(members.size());
  uint64_t assigned = 0;
  for (size_t i = 0; i < members.size(); ++i) {
    const uint64_t share = uint64_t{slot_count} * members[i].weight;
    quota[i] = static_cast<uint32_t>(share / total);
    remainder[i] = share % total;
    assigned += quota[i];
  }
  // Hand the leftover slots (fewer than members.size()) to the largest
  // remainders; equal remainders go by name so the input order never matters.
  std::vector<size_t> order(members.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (remainder[a] != remainder[b]) return remainder[a] > remainder[b];
    return members[a].name < members[b].name;
  });
  for (uint64_t k = 0; k < slot_count - assigned; ++k) ++quota[order[k]];
  return quota;
}

std::vector<uint32_t> build_slot_table(const std::vector<SlotMember>& members, uint32_t slot_count) {
  // Maglev needs a prime size so every skip in 1..M-1 generates a full
  // permutation; M > 1 so that skip has a range at all.
  if (!is_prime(slot_count))
    throw std::invalid_argument("slot table: size " + std::to_string(slot_count) + " is not a prime > 1");
  const std::vector<SlotMember> sorted = sorted_by_name(members);
  const std::vector<uint32_t> quota = slot_quota(sorted, slot_count);
  std::vector<uint32_t> table(slot_count, 0);

  std::vector<Walker> walkers;
  walkers.reserve(sorted.size());
  for (size_t i = 0; i < sorted.size(); ++i) walkers.push_back(make_walker(sorted[i], quota[i], slot_count));

  // A member whose quota rounds to 0 never takes a turn.
  std::priority_queue<size_t, std::vector<size_t>, LaterTurn> turn{LaterTurn{&walkers}};
  for (size_t i = 0; i < walkers.size(); ++i)
    if (walkers[i].quota > 0) turn.push(i);
  // Only the popped walker's key changes, so re-pushing it keeps the heap valid.
  while (!turn.empty()) {
    const size_t i = turn.top();
    turn.pop();
    claim_next(walkers[i], table);
    if (walkers[i].filled < walkers[i].quota) turn.push(i);
  }
  return table;
}

}  // namespace wanlb

namespace wanlb {

std::vector<uint32_t> failover_table(const std::vector<uint32_t>& base, const std::vector<SlotMember>& live) {
  std::vector<uint32_t> table(base.size(), 0);
  if (live.empty()) return table;

  std::vector<bool> is_live(WANLB_MAX_WANS + 1, false);
  for (const auto& m : live)
    if (m.id < is_live.size()) is_live[m.id] = true;

  std::vector<uint32_t> freed;  // slot indexes whose owner is down
  for (uint32_t s = 0; s < base.size(); s++) {
    if (base[s] < is_live.size() && is_live[base[s]]) table[s] = base[s];
    else freed.push_back(s);
  }

  // Exact counts per live member, then hand the freed slots out in table
  // order to whoever is furthest below its count (stride scheduling), so
  // each survivor's extra slots spread evenly over the hash space.
  std::vector<uint32_t> quota = slot_quota(live, static_cast<uint32_t>(freed.size()));
  std::vector<uint64_t> given(live.size(), 0);
  for (uint32_t s : freed) {
    size_t best = live.size();
    for (size_t i = 0; i < live.size(); i++) {
      if (given[i] >= quota[i]) continue;
      // given_i / quota_i < given_best / quota_best, without division
      if (best == live.size() || given[i] * quota[best] < given[best] * quota[i]) best = i;
    }
    table[s] = live[best].id;
    given[best]++;
  }
  return table;
}

}  // namespace wanlb
