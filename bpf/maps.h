/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Every map of the LAN data path. Names carry the wanlb_ prefix so that
 * `bpftool map` output explains itself; BTF-defined so dumps show fields. */
#ifndef WANLB_BPF_MAPS_H
#define WANLB_BPF_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "wanlb/dp_shared.h"

/* Conntrack-style pinning of a connection to its WAN. max_entries is set by
 * the agent from flow_table_size before load. LRU: when full, the least
 * recently used flow is evicted and new flows are still classified. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WANLB_DEFAULT_FLOW_ENTRIES);
	__type(key, struct wanlb_flow_key);
	__type(value, struct wanlb_flow);
} wanlb_flows SEC(".maps");

/* Weighted consistent-hash table: slot -> WAN id (0 = none). Mappable: the
 * agent writes a weight change or a failover as plain 4-byte stores into
 * its mapping (no syscall per element; see sync_slots). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, WANLB_SLOT_COUNT);
	__type(key, __u32);
	__type(value, __u32);
} wanlb_slots SEC(".maps");

/* WAN id -> WAN (mark, state, and descriptive fields for status). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WANLB_MAX_WANS + 1);
	__type(key, __u32);
	__type(value, struct wanlb_wan);
} wanlb_wans SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wanlb_config);
} wanlb_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WANLB_MAX_WANS + 1);
	__type(key, __u32);
	__type(value, struct wanlb_wan_stats);
} wanlb_wan_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WANLB_CNT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} wanlb_counters SEC(".maps");

/* Destinations that get no mark (main table): config bypass prefixes, the
 * router's connected networks and its own addresses. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct wanlb_lpm_v4);
	__type(value, __u32);
} wanlb_bypass4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct wanlb_lpm_v6);
	__type(value, __u32);
} wanlb_bypass6 SEC(".maps");

/* ------------------------------------------------------------- policies */

/* The ordered policy list; entries 0 .. wanlb_config.n_policies-1 count. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WANLB_MAX_POLICIES);
	__type(key, __u32);
	__type(value, struct wanlb_policy);
} wanlb_policies SEC(".maps");

/* Prefix conditions: address -> bitmask of the policies (bit i = policy i)
 * that contain it. The agent stores for every prefix the union over all
 * prefixes covering it, so the longest match alone gives the answer. */
#define WANLB_POLICY_TRIE(name, key_type)                        \
	struct {                                                 \
		__uint(type, BPF_MAP_TYPE_LPM_TRIE);             \
		__uint(max_entries, WANLB_POLICY_PREFIXES);      \
		__uint(map_flags, BPF_F_NO_PREALLOC);            \
		__type(key, key_type);                           \
		__type(value, __u64);                            \
	} name SEC(".maps")

WANLB_POLICY_TRIE(wanlb_pol_src4, struct wanlb_lpm_v4);
WANLB_POLICY_TRIE(wanlb_pol_src6, struct wanlb_lpm_v6);
WANLB_POLICY_TRIE(wanlb_pol_dst4, struct wanlb_lpm_v4);
WANLB_POLICY_TRIE(wanlb_pol_dst6, struct wanlb_lpm_v6);

/* New connections decided by each policy (per-CPU, index = policy).
 * Named wanlb_pol_hits: map names are cut at 15 characters. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WANLB_MAX_POLICIES);
	__type(key, __u32);
	__type(value, __u64);
} wanlb_pol_hits SEC(".maps");

/* --------------------------------------------------------- sticky pairs */

/* Address pair -> the WAN its connections use. Sized by the agent like
 * wanlb_flows; LRU so that a full table forgets the idlest pairs. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, WANLB_DEFAULT_FLOW_ENTRIES);
	__type(key, struct wanlb_pair_key);
	__type(value, struct wanlb_pair);
} wanlb_pairs SEC(".maps");

/* ---------------------------------------------------------- round robin */

/* New connections seen by the round-robin classifier (shared by all CPUs,
 * incremented atomically); the next slot is counter % WANLB_SLOT_COUNT. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} wanlb_rr SEC(".maps");

#endif /* WANLB_BPF_MAPS_H */
