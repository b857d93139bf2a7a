/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Sticky address pairs (wanlb_config.flags & WANLB_CFG_F_STICKY_PAIR): new
 * connections between the same two addresses use the same WAN while the
 * pair stays active (websites that tie a session to the client's address,
 * SIP, FTP data). A pair is active while one of its flows is (its
 * last_seen is refreshed with theirs) and for sticky_timeout_s after.
 * Only connections that no policy and no inbound rule decided take part.
 */
#ifndef WANLB_BPF_STICKY_H
#define WANLB_BPF_STICKY_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "wanlb/dp_shared.h"
#include "maps.h"
#include "wans.h"

#define WANLB_NS_PER_S 1000000000ULL

static __always_inline void wanlb_pair_key_of(const struct wanlb_flow_key *key, struct wanlb_pair_key *pk)
{
	__builtin_memcpy(pk->saddr, key->saddr, sizeof(pk->saddr));
	__builtin_memcpy(pk->daddr, key->daddr, sizeof(pk->daddr));
	pk->family = key->family;
}

/* The pair's WAN when the pair was active within the timeout and its WAN
 * is up (its id in *wan_id; the pair is refreshed), else NULL. */
static __always_inline struct wanlb_wan *wanlb_sticky_wan(const struct wanlb_pair_key *pk,
							  const struct wanlb_config *cfg, __u64 now, __u32 *wan_id)
{
	struct wanlb_pair *pair = bpf_map_lookup_elem(&wanlb_pairs, pk);
	struct wanlb_wan *wan;

	if (!pair)
		return NULL;
	if (now - pair->last_seen_ns > (__u64)cfg->sticky_timeout_s * WANLB_NS_PER_S)
		return NULL;
	wan = wanlb_live_wan(pair->wan_id);
	if (!wan)
		return NULL;
	pair->last_seen_ns = now;
	*wan_id = pair->wan_id;
	return wan;
}

static __always_inline void wanlb_sticky_record(const struct wanlb_pair_key *pk, __u32 wan_id, __u64 now)
{
	struct wanlb_pair pair = { .last_seen_ns = now, .wan_id = wan_id };

	bpf_map_update_elem(&wanlb_pairs, pk, &pair, BPF_ANY);
}

/* A flow of the pair refreshed its own last_seen: so does the pair, if it
 * still points to the flow's WAN (a flow pinned elsewhere by a policy or as
 * an inbound reply does not keep the pair's choice alive). */
static __always_inline void wanlb_sticky_refresh(const struct wanlb_flow_key *key, __u32 wan_id, __u64 now)
{
	struct wanlb_pair_key pk = {};
	struct wanlb_pair *pair;

	wanlb_pair_key_of(key, &pk);
	pair = bpf_map_lookup_elem(&wanlb_pairs, &pk);
	if (pair && pair->wan_id == wan_id)
		pair->last_seen_ns = now;
}

#endif /* WANLB_BPF_STICKY_H */
