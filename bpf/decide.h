/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The classification both LAN programs share: which WAN a parsed packet
 * leaves through, given the flow map, bypass, inbound replies, policies,
 * sticky pairs and the slot table. wanlb_tc_lan (tc ingress) and
 * wanlb_xdp_lan (XDP, `mode: xdp`) call the same code, so a flow gets the
 * same WAN whichever program sees it first.
 *
 * Order of the decision:
 *   1. an established flow follows its entry in wanlb_flows while its WAN is up;
 *   2. a new flow to a bypassed destination gets no WAN (main table);
 *   3. a new flow that is the reply of a connection that came in from a WAN
 *      (conntrack, see inbound.h) leaves through that WAN;
 *   4. else the first matching policy decides (policy.h): a WAN list, the
 *      balanced choice, or no WAN;
 *   5. else, with sticky pairs on, an active address pair keeps its WAN
 *      (sticky.h);
 *   6. else the classifier's fields are hashed to a slot (or round robin
 *      takes the next slot), the slot names the WAN.
 * The chosen WAN is pinned in wanlb_flows. Counters of the decision itself
 * (bypassed, no_wan, inbound, sticky, policy hits) move here; the per-WAN
 * packet counters are the caller's, once the packet is on its way.
 *
 * The including program defines WANLB_XDP (XDP) or not (tc) before the
 * includes: it selects the context type of the conntrack lookup.
 */
#ifndef WANLB_BPF_DECIDE_H
#define WANLB_BPF_DECIDE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "wanlb/dp_shared.h"
#include "maps.h"
#include "parsing.h"
#include "classify.h"
#include "inbound.h"
#include "policy.h"
#include "sticky.h"
#include "wans.h"

#define WANLB_REFRESH_NS 1000000000ULL /* last_seen granularity: one second */

#ifdef WANLB_XDP
#define WANLB_CTX struct xdp_md
#else
#define WANLB_CTX struct __sk_buff
#endif

static __always_inline void wanlb_count(__u32 counter)
{
	__u64 *value = bpf_map_lookup_elem(&wanlb_counters, &counter);

	if (value)
		*value += 1;
}

static __always_inline void wanlb_count_wan(__u32 wan_id, __u32 len, int new_flow)
{
	struct wanlb_wan_stats *st = bpf_map_lookup_elem(&wanlb_wan_stats, &wan_id);

	if (!st)
		return;
	st->packets += 1;
	st->bytes += len;
	st->new_flows += new_flow;
}

/* What wanlb_decide chose. */
struct wanlb_choice {
	struct wanlb_wan *wan; /* NULL: leave unmarked (already counted) */
	__u32 wan_id;
	__u32 flow_flags; /* WANLB_FLOW_F_* of the flow */
	__u32 new_flow;   /* 1: the packet started (or re-started) a flow */
};

/* Classify one parsed IP packet. Returns the choice's wan (NULL: no WAN,
 * the packet goes unmarked, its counter already moved). */
static __always_inline struct wanlb_wan *wanlb_decide(WANLB_CTX *ctx, struct wanlb_packet *pkt,
						      const struct wanlb_config *cfg, struct wanlb_choice *out)
{
	struct wanlb_flow *flow;
	struct wanlb_wan *wan;
	__u32 wan_id;
	__u64 now;

	now = bpf_ktime_get_coarse_ns();
	flow = bpf_map_lookup_elem(&wanlb_flows, &pkt->key);
	/* A SYN on a finished connection's entry starts a new connection. */
	if (flow && !(pkt->tcp_syn_only && (flow->flags & WANLB_FLOW_F_ESTABLISHED))) {
		wan = wanlb_live_wan(flow->wan_id);
		/* A reply of an inbound connection stays on its WAN even when
		 * that WAN is down (see below); only this rare case pays the
		 * extra test. */
		if (!wan && (flow->flags & WANLB_FLOW_F_INBOUND))
			wan = wanlb_configured_wan(flow->wan_id);
		if (wan) {
			/* Established: follow the map, never the hash. */
			if (now - flow->last_seen_ns > WANLB_REFRESH_NS) {
				flow->last_seen_ns = now;
				if (cfg->flags & WANLB_CFG_F_STICKY_PAIR)
					wanlb_sticky_refresh(&pkt->key, flow->wan_id, now);
			}
			if (pkt->tcp_ack && !(flow->flags & WANLB_FLOW_F_ESTABLISHED))
				flow->flags |= WANLB_FLOW_F_ESTABLISHED;
			out->wan = wan;
			out->wan_id = flow->wan_id;
			out->flow_flags = flow->flags;
			out->new_flow = 0;
			return wan;
		}
		/* Its WAN is gone or down: classify again below. */
	}

	if (wanlb_is_bypassed(&pkt->key)) {
		wanlb_count(WANLB_CNT_BYPASSED);
		return NULL;
	}

	__u32 flow_flags = pkt->tcp_ack ? WANLB_FLOW_F_ESTABLISHED : 0;

	wan = NULL;
	wan_id = 0;

	/* Reply of a connection that came in from a WAN: leave through it.
	 * A LAN-initiated connection starts with a bare SYN, which cannot be
	 * such a reply: no conntrack lookup for it. The WAN is used even when
	 * it is down: the reply only makes sense through the address the
	 * peer connected to (elsewhere it would be NATed to another one), and
	 * the connection is dead anyway if that WAN really is. */
	if ((cfg->flags & WANLB_CFG_F_INBOUND) && !pkt->tcp_syn_only) {
		wan_id = wanlb_inbound_wan(ctx, pkt, cfg->mark_mask);
		if (wan_id) {
			wan = wanlb_configured_wan(wan_id);
			if (wan) {
				flow_flags |= WANLB_FLOW_F_INBOUND;
				wanlb_count(WANLB_CNT_INBOUND);
			}
		}
	}

	/* Policies: the first match decides. */
	if (!wan && __builtin_expect(cfg->n_policies != 0, 0)) {
		struct wanlb_policy *pol = NULL;
		int idx = wanlb_policy_find(pkt, cfg->n_policies);

		if (idx >= 0)
			pol = bpf_map_lookup_elem(&wanlb_policies, &idx);
		if (pol) {
			wanlb_count_policy(idx);
			if (pol->action == WANLB_ACT_BYPASS) {
				wanlb_count(WANLB_CNT_BYPASSED);
				return NULL;
			}
			if (pol->action == WANLB_ACT_WANS) {
				/* None of its WANs up: the balanced choice. */
				wan = wanlb_policy_wan(pol, &wan_id);
				if (wan)
					flow_flags |= WANLB_FLOW_F_POLICY;
			}
		}
	}

	if (!wan) {
		/* Balanced: the pair's WAN if sticky, else the slot table. */
		int sticky = cfg->flags & WANLB_CFG_F_STICKY_PAIR;
		struct wanlb_pair_key pk;

		if (__builtin_expect(sticky, 0)) {
			/* Zeroed here, not at the declaration: without sticky
			 * pairs the key is never built. */
			__builtin_memset(&pk, 0, sizeof(pk));
			wanlb_pair_key_of(&pkt->key, &pk);
			wan = wanlb_sticky_wan(&pk, cfg, now, &wan_id);
			if (wan)
				wanlb_count(WANLB_CNT_STICKY);
		}
		if (!wan) {
			wan_id = wanlb_pick_wan(&pkt->key, cfg);
			wan = wanlb_live_wan(wan_id);
			if (!wan) {
				wanlb_count(WANLB_CNT_NO_WAN);
				return NULL;
			}
			if (__builtin_expect(sticky, 0))
				wanlb_sticky_record(&pk, wan_id, now);
		}
	}

	struct wanlb_flow entry = {
		.last_seen_ns = now,
		.wan_id = wan_id,
		.flags = flow_flags,
	};

	bpf_map_update_elem(&wanlb_flows, &pkt->key, &entry, BPF_ANY);
	out->wan = wan;
	out->wan_id = wan_id;
	out->flow_flags = flow_flags;
	out->new_flow = 1;
	return wan;
}

#endif /* WANLB_BPF_DECIDE_H */
