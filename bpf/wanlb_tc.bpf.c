// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * wanlb LAN data path (tc ingress on every LAN interface).
 *
 * For each IP packet from the LAN, decide.h chooses the WAN:
 *   1. an established flow follows its entry in wanlb_flows while its WAN is up;
 *   2. a new flow to a bypassed destination gets no mark (main table);
 *   3. a new flow that is the reply of a connection that came in from a WAN
 *      (conntrack, see inbound.h) leaves through that WAN;
 *   4. else the first matching policy decides (policy.h): a WAN list, the
 *      balanced choice, or no mark;
 *   5. else, with sticky pairs on, an active address pair keeps its WAN
 *      (sticky.h);
 *   6. else the classifier's fields are hashed to a slot (or round robin
 *      takes the next slot), the slot names the WAN.
 * The chosen WAN is pinned in wanlb_flows. The packet leaves with the WAN's
 * fwmark in the bits of mark_mask; the agent's `fwmark MARK/MASK lookup
 * TABLE` rules route it.
 * A frame that wanlb_xdp_lan (`mode: xdp`) already classified and passed up
 * carries its decision in the metadata area (struct wanlb_xdp_meta): it is
 * applied, not recomputed.
 * Every path returns TC_ACT_OK: wanlb steers, it never drops.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "wanlb/dp_shared.h"
#include "maps.h"
#include "parsing.h"
#include "decide.h"

#define WANLB_PULL_LEN 256 /* enough for 2 VLAN tags, IPv6 + 8 ext headers in practice */

static __always_inline void wanlb_set_mark(struct __sk_buff *skb, const struct wanlb_config *cfg,
					   const struct wanlb_wan *wan)
{
	skb->mark = (skb->mark & ~cfg->mark_mask) | (wan->mark & cfg->mark_mask);
}

/* A frame wanlb_xdp_lan (same interface, `mode: xdp`) passed up: it was
 * classified and counted there; apply its decision. Returns 1 when done,
 * 0 when there is no such metadata (tc mode, or XDP could not reserve it).
 *
 * A global (non-inlined) function: verified once on its own, so its exits
 * do not each drag their own register state through the classification
 * below (inlined, it cost the verifier ~90k more instructions). */
__attribute__((noinline)) int wanlb_from_xdp(struct __sk_buff *skb)
{
	struct wanlb_xdp_meta *meta;
	struct wanlb_config *cfg;
	struct wanlb_wan *wan;
	__u32 zero = 0, wan_id;

	if (!skb)
		return 0;
	meta = (void *)(long)skb->data_meta;
	if ((void *)(meta + 1) > (void *)(long)skb->data)
		return 0;
	if (meta->magic != WANLB_XDP_META_MAGIC)
		return 0;
	wan_id = meta->wan_id;
	if (!wan_id)
		return 1; /* unbalanced: XDP counted why */
	cfg = bpf_map_lookup_elem(&wanlb_config, &zero);
	wan = wanlb_configured_wan(wan_id);
	if (!cfg || !wan)
		return 0; /* the WAN vanished in between: classify here */
	wanlb_set_mark(skb, cfg, wan);
	wanlb_count_wan(wan_id, skb->len, meta->flags & WANLB_XDP_META_F_NEW_FLOW);
	return 1;
}

SEC("tc")
int wanlb_tc_lan(struct __sk_buff *skb)
{
	struct wanlb_packet pkt = {};
	struct wanlb_choice choice;
	struct wanlb_config *cfg;
	__u32 zero = 0;
	int rc;

	/* Only a frame with metadata can come from wanlb_xdp_lan: in tc mode
	 * (no metadata) this spares every packet the call. */
	if ((void *)(long)skb->data_meta < (void *)(long)skb->data && wanlb_from_xdp(skb))
		return TC_ACT_OK;

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

	if (!wanlb_decide(skb, &pkt, cfg, &choice))
		return TC_ACT_OK;
	wanlb_set_mark(skb, cfg, choice.wan);
	wanlb_count_wan(choice.wan_id, skb->len, choice.new_flow);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
