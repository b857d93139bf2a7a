/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* PCC: choose a WAN for a new connection from its selected fields (or, for
 * the round-robin classifier, from a counter of new connections). */
#ifndef WANLB_BPF_CLASSIFY_H
#define WANLB_BPF_CLASSIFY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "wanlb/dp_shared.h"
#include "wanlb/jhash.h"
#include "maps.h"
#include "parsing.h"

#define WANLB_F_SRC_ADDR (1U << 0)
#define WANLB_F_DST_ADDR (1U << 1)
#define WANLB_F_SRC_PORT (1U << 2)
#define WANLB_F_DST_PORT (1U << 3)

/* Which fields each RouterOS classifier hashes. */
static __always_inline __u32 wanlb_classifier_fields(__u32 classifier)
{
	switch (classifier) {
	case WANLB_CLS_SRC_ADDRESS: return WANLB_F_SRC_ADDR;
	case WANLB_CLS_DST_ADDRESS: return WANLB_F_DST_ADDR;
	case WANLB_CLS_BOTH_ADDRESSES: return WANLB_F_SRC_ADDR | WANLB_F_DST_ADDR;
	case WANLB_CLS_SRC_PORT: return WANLB_F_SRC_PORT;
	case WANLB_CLS_DST_PORT: return WANLB_F_DST_PORT;
	case WANLB_CLS_BOTH_PORTS: return WANLB_F_SRC_PORT | WANLB_F_DST_PORT;
	case WANLB_CLS_SRC_ADDRESS_AND_PORT: return WANLB_F_SRC_ADDR | WANLB_F_SRC_PORT;
	case WANLB_CLS_DST_ADDRESS_AND_PORT: return WANLB_F_DST_ADDR | WANLB_F_DST_PORT;
	default: return WANLB_F_SRC_ADDR | WANLB_F_DST_ADDR | WANLB_F_SRC_PORT | WANLB_F_DST_PORT;
	}
}

static __always_inline __u32 wanlb_pcc_hash(const struct wanlb_flow_key *key, const struct wanlb_config *cfg)
{
	struct wanlb_hash_input in = {};
	__u32 fields = wanlb_classifier_fields(cfg->classifier);

	if (fields & WANLB_F_SRC_ADDR)
		__builtin_memcpy(in.a, key->saddr, sizeof(in.a));
	if (fields & WANLB_F_DST_ADDR)
		__builtin_memcpy(in.b, key->daddr, sizeof(in.b));
	if (fields & WANLB_F_SRC_PORT)
		in.sport = key->sport;
	if (fields & WANLB_F_DST_PORT)
		in.dport = key->dport;
	return wanlb_jhash_input(&in, cfg->hash_seed);
}

/* Round robin (RouterOS nth): every new connection takes the next slot; the
 * slot table carries the weights. One counter shared by all CPUs. */
static __always_inline __u32 wanlb_rr_slot(void)
{
	__u32 zero = 0;
	__u64 *next = bpf_map_lookup_elem(&wanlb_rr, &zero);

	return next ? __sync_fetch_and_add(next, 1) % WANLB_SLOT_COUNT : 0;
}

/* WAN id owning the connection's slot; 0 when the table is empty. */
static __always_inline __u32 wanlb_pick_wan(const struct wanlb_flow_key *key, const struct wanlb_config *cfg)
{
	__u32 slot = __builtin_expect(cfg->classifier == WANLB_CLS_ROUND_ROBIN, 0)
			     ? wanlb_rr_slot()
			     : wanlb_pcc_hash(key, cfg) % WANLB_SLOT_COUNT;
	__u32 *wan_id = bpf_map_lookup_elem(&wanlb_slots, &slot);

	return wan_id ? *wan_id : 0;
}

/* Is the destination the router, a connected network or a bypass prefix? */
static __always_inline int wanlb_is_bypassed(const struct wanlb_flow_key *key)
{
	if (key->family == AF_INET) {
		struct wanlb_lpm_v4 k4 = { .prefixlen = 32, .addr = key->daddr[0] };

		return bpf_map_lookup_elem(&wanlb_bypass4, &k4) != NULL;
	}
	struct wanlb_lpm_v6 k6 = { .prefixlen = 128 };

	__builtin_memcpy(k6.addr, key->daddr, sizeof(k6.addr));
	return bpf_map_lookup_elem(&wanlb_bypass6, &k6) != NULL;
}

#endif /* WANLB_BPF_CLASSIFY_H */
