/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Policies: an ordered list of conditions -> action, evaluated for new
 * connections after the bypass check and before the hash.
 *
 * Conditions of one policy are ANDed; a condition the policy does not set
 * (its WANLB_POLICY_F_* bit clear) matches everything. Prefix conditions
 * read one LPM trie per family and direction whose value is the bitmask of
 * the policies containing the address; each trie is looked up at most once
 * per packet, and only when a policy actually has that condition. Port
 * conditions match the destination port of TCP and UDP only; a fragment
 * carries no ports (see parsing.h), so it never matches a port condition.
 */
#ifndef WANLB_BPF_POLICY_H
#define WANLB_BPF_POLICY_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "wanlb/dp_shared.h"
#include "maps.h"
#include "parsing.h"
#include "wans.h"

/* Bitmask of the policies whose prefixes contain `addr` (family of key). */
static __always_inline __u64 wanlb_policy_bits(void *trie4, void *trie6, const struct wanlb_flow_key *key,
					       const __be32 *addr)
{
	__u64 *bits;

	if (key->family == AF_INET) {
		struct wanlb_lpm_v4 k4 = { .prefixlen = 32, .addr = addr[0] };

		bits = bpf_map_lookup_elem(trie4, &k4);
	} else {
		struct wanlb_lpm_v6 k6 = { .prefixlen = 128 };

		__builtin_memcpy(k6.addr, addr, sizeof(k6.addr));
		bits = bpf_map_lookup_elem(trie6, &k6);
	}
	return bits ? *bits : 0;
}

static __always_inline int wanlb_port_matches(const struct wanlb_policy *pol, __u16 port)
{
	int i;

#pragma unroll
	for (i = 0; i < WANLB_POLICY_MAX_PORTS; i++) {
		if (i >= pol->n_ports)
			break;
		if (port >= pol->ports[i].lo && port <= pol->ports[i].hi)
			return 1;
	}
	return 0;
}

/* Index of the first of the n policies that matches the packet, -1 if none.
 *
 * A global (non-inlined) function on purpose: the verifier checks it once,
 * on its own, and the caller sees an unknown index. Inlined, each of the 64
 * possible exits of the loop carried a different constant index into the
 * rest of the program, which the verifier then walked 64 times over
 * (beyond its 1M-instruction budget). */
__attribute__((noinline)) int wanlb_policy_find(const struct wanlb_packet *pkt, __u32 n)
{
	const struct wanlb_flow_key *key;
	__u64 src_bits = 0, dst_bits = 0;
	int src_done = 0, dst_done = 0, has_ports;
	__u16 dport;
	int i;

	if (!pkt)
		return -1;
	key = &pkt->key;
	has_ports = !pkt->is_fragment && (key->proto == IPPROTO_TCP || key->proto == IPPROTO_UDP);
	dport = bpf_ntohs(key->dport);

	for (i = 0; i < WANLB_MAX_POLICIES; i++) {
		struct wanlb_policy *pol;
		__u64 bit = 1ULL << i;
		__u32 slot = i; /* the loop counter itself stays in a register */

		if (slot >= n)
			break;
		pol = bpf_map_lookup_elem(&wanlb_policies, &slot);
		if (!pol)
			break;
		/* Cheap conditions first; the tries only when still needed. */
		if ((pol->flags & WANLB_POLICY_F_PROTO) && pol->proto != key->proto)
			continue;
		if ((pol->flags & WANLB_POLICY_F_PORTS) && !(has_ports && wanlb_port_matches(pol, dport)))
			continue;
		if (pol->flags & WANLB_POLICY_F_SRC) {
			if (!src_done) {
				src_bits = wanlb_policy_bits(&wanlb_pol_src4, &wanlb_pol_src6, key, key->saddr);
				src_done = 1;
			}
			if (!(src_bits & bit))
				continue;
		}
		if (pol->flags & WANLB_POLICY_F_DST) {
			if (!dst_done) {
				dst_bits = wanlb_policy_bits(&wanlb_pol_dst4, &wanlb_pol_dst6, key, key->daddr);
				dst_done = 1;
			}
			if (!(dst_bits & bit))
				continue;
		}
		return i;
	}
	return -1;
}

/* WANLB_ACT_WANS: the first WAN of the list that is up (its id in *wan_id),
 * NULL when none is. */
static __always_inline struct wanlb_wan *wanlb_policy_wan(const struct wanlb_policy *pol, __u32 *wan_id)
{
	int i;

#pragma unroll
	for (i = 0; i < WANLB_POLICY_MAX_WANS; i++) {
		struct wanlb_wan *wan;
		__u32 id;

		if (i >= pol->n_wans)
			break;
		id = pol->wans[i];
		wan = wanlb_live_wan(id);
		if (wan) {
			*wan_id = id;
			return wan;
		}
	}
	return NULL;
}

static __always_inline void wanlb_count_policy(__u32 idx)
{
	__u64 *hits = bpf_map_lookup_elem(&wanlb_pol_hits, &idx);

	if (hits)
		*hits += 1;
}

#endif /* WANLB_BPF_POLICY_H */
