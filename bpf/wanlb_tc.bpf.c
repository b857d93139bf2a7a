// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * wanlb LAN data path (tc ingress on every LAN interface).
 *
 * For each IP packet from the LAN:
 *   1. an established flow follows its entry in wanlb_flows while its WAN is up;
 *   2. a new flow to a bypassed destination gets no mark (main table);
 *   3. otherwise the classifier's fields are hashed to a slot, the slot names
 *      the WAN, the flow is pinned to it in wanlb_flows.
 * The packet leaves with the WAN's fwmark in the bits of mark_mask; the
 * agent's `fwmark MARK/MASK lookup TABLE` rules route it.
 * Every path returns TC_ACT_OK: wanlb steers, it never drops.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "wanlb/dp_shared.h"
#include "maps.h"
#include "parsing.h"
#include "classify.h"

#define WANLB_REFRESH_NS 1000000000ULL /* last_seen granularity: one second */
#define WANLB_PULL_LEN 256               /* enough for 2 VLAN tags, IPv6 + 8 ext headers in practice */

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

/* The WAN if it exists and is up, else NULL. */
static __always_inline struct wanlb_wan *wanlb_live_wan(__u32 wan_id)
{
	struct wanlb_wan *wan = bpf_map_lookup_elem(&wanlb_wans, &wan_id);

	if (!wan || !(wan->flags & WANLB_WAN_F_UP))
		return NULL;
	return wan;
}

static __always_inline void wanlb_set_mark(struct __sk_buff *skb, const struct wanlb_config *cfg,
					   const struct wanlb_wan *wan)
{
	skb->mark = (skb->mark & ~cfg->mark_mask) | (wan->mark & cfg->mark_mask);
}

SEC("tc")
int wanlb_tc_lan(struct __sk_buff *skb)
{
	struct wanlb_packet pkt = {};
	struct wanlb_config *cfg;
	struct wanlb_flow *flow;
	struct wanlb_wan *wan;
	__u32 zero = 0, wan_id;
	__u64 now;
	int rc;

	rc = wanlb_parse_frame((void *)(long)skb->data, (void *)(long)skb->data_end, skb->len, &pkt);
	if (rc == WANLB_PARSE_BAD && skb->data_end - skb->data < skb->len) {
		/* Headers may sit outside the linear area of a paged skb: pull
		 * them in and parse again (packet pointers change after a pull). */
		__builtin_memset(&pkt, 0, sizeof(pkt));
		bpf_skb_pull_data(skb, skb->len < WANLB_PULL_LEN ? skb->len : WANLB_PULL_LEN);
		rc = wanlb_parse_frame((void *)(long)skb->data, (void *)(long)skb->data_end, skb->len, &pkt);
	}
	if (rc == WANLB_PARSE_NOT_IP) {
		wanlb_count(WANLB_CNT_NON_IP);
		return TC_ACT_OK;
	}
	if (rc != WANLB_PARSE_OK) {
		wanlb_count(WANLB_CNT_UNPARSABLE);
		return TC_ACT_OK;
	}
	if (pkt.is_fragment)
		wanlb_count(WANLB_CNT_FRAGMENTS);

	cfg = bpf_map_lookup_elem(&wanlb_config, &zero);
	if (!cfg)
		return TC_ACT_OK;

	now = bpf_ktime_get_coarse_ns();
	flow = bpf_map_lookup_elem(&wanlb_flows, &pkt.key);
	/* A SYN on a finished connection's entry starts a new connection. */
	if (flow && !(pkt.tcp_syn_only && (flow->flags & WANLB_FLOW_F_ESTABLISHED))) {
		wan = wanlb_live_wan(flow->wan_id);
		if (wan) {
			/* Established: follow the map, never the hash. */
			if (now - flow->last_seen_ns > WANLB_REFRESH_NS)
				flow->last_seen_ns = now;
			if (pkt.tcp_ack && !(flow->flags & WANLB_FLOW_F_ESTABLISHED))
				flow->flags |= WANLB_FLOW_F_ESTABLISHED;
			wanlb_set_mark(skb, cfg, wan);
			wanlb_count_wan(flow->wan_id, skb->len, 0);
			return TC_ACT_OK;
		}
		/* Its WAN is gone or down: classify again below. */
	}

	if (wanlb_is_bypassed(&pkt.key)) {
		wanlb_count(WANLB_CNT_BYPASSED);
		return TC_ACT_OK;
	}

	wan_id = wanlb_pick_wan(&pkt.key, cfg);
	wan = wanlb_live_wan(wan_id);
	if (!wan) {
		wanlb_count(WANLB_CNT_NO_WAN);
		return TC_ACT_OK;
	}

	struct wanlb_flow entry = {
		.last_seen_ns = now,
		.wan_id = wan_id,
		.flags = pkt.tcp_ack ? WANLB_FLOW_F_ESTABLISHED : 0,
	};

	bpf_map_update_elem(&wanlb_flows, &pkt.key, &entry, BPF_ANY);
	wanlb_set_mark(skb, cfg, wan);
	wanlb_count_wan(wan_id, skb->len, 1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
