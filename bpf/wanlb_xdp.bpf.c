// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * wanlb LAN fast path (XDP on LAN interfaces configured `mode: xdp`).
 *
 * Classifies every frame with the same code and the same maps as
 * wanlb_tc_lan (decide.h), then, for routed WANs without NAT, forwards the
 * packet itself: route lookup in the chosen WAN's own table
 * (bpf_fib_lookup with BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID), TTL /
 * hop limit decrement, new Ethernet header, bpf_redirect to the WAN.
 *
 * Everything it cannot finish goes to the stack (XDP_PASS) with the
 * decision in the frame's metadata (struct wanlb_xdp_meta): the WAN NATs
 * this family, the flow is the reply of an inbound connection (possibly
 * DNATed), a fragment, a VLAN tag, a multicast MAC, an expiring TTL, IPv6
 * hop-by-hop options, no route / no neighbour / MTU in the WAN's table, a
 * bypassed destination, no WAN at all. wanlb_tc_lan, attached to the same
 * interface, reads the metadata and sets the WAN's mark without classifying
 * again, so every counter moves exactly once and a flow has the same WAN
 * on both paths.
 *
 * Frames XDP could not reserve metadata for (a driver without metadata
 * support) are passed untouched: wanlb_tc_lan then does all the work, as
 * in tc mode.
 */
#define WANLB_XDP 1

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "wanlb/dp_shared.h"
#include "maps.h"
#include "parsing.h"
#include "decide.h"

/* IPv4 TTL decrement with an incremental checksum update (ip_decrease_ttl). */
static __always_inline void wanlb_ipv4_decrease_ttl(struct iphdr *iph)
{
	__u32 check = (__u32)iph->check;

	check += (__u32)bpf_htons(0x0100);
	iph->check = (__sum16)(check + (check >= 0xFFFF));
	iph->ttl--;
}

/* Try to forward the packet to the chosen WAN. Returns XDP_REDIRECT when
 * done, else XDP_PASS with the reason in *reason. */
static __always_inline int wanlb_xdp_forward(struct xdp_md *ctx, const struct wanlb_packet *pkt,
					     const struct wanlb_choice *choice, __u32 *reason)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib = {};
	struct ethhdr *eth = data;
	const struct wanlb_wan *wan = choice->wan;
	int v4 = pkt->key.family == AF_INET;
	long rc;

	if (!(wan->flags & (v4 ? WANLB_WAN_F_NO_NAT : WANLB_WAN_F_NO_NAT6))) {
		*reason = WANLB_XDP_PASS_NAT;
		return XDP_PASS;
	}
	/* The reply of a connection that came in from a WAN may be
	 * port-forwarded (DNAT): only conntrack can translate it back. */
	if (choice->flow_flags & WANLB_FLOW_F_INBOUND) {
		*reason = WANLB_XDP_PASS_INBOUND;
		return XDP_PASS;
	}
	if (pkt->is_fragment) {
		*reason = WANLB_XDP_PASS_FRAGMENT;
		return XDP_PASS;
	}
	*reason = WANLB_XDP_PASS_L2;
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	/* Untagged unicast only: VLAN sub-interfaces and multicast are the
	 * stack's. */
	if (eth->h_dest[0] & 1)
		return XDP_PASS;

	fib.ifindex = ctx->ingress_ifindex;
	fib.l4_protocol = pkt->key.proto;
	fib.sport = pkt->key.sport;
	fib.dport = pkt->key.dport;
	fib.tbid = wan->table;

	if (v4) {
		struct iphdr *iph = (void *)(eth + 1);

		if (eth->h_proto != bpf_htons(ETH_P_IP) || (void *)(iph + 1) > data_end)
			return XDP_PASS;
		if (iph->ttl <= 1) {
			*reason = WANLB_XDP_PASS_TTL; /* ICMP time exceeded is the stack's */
			return XDP_PASS;
		}
		fib.family = AF_INET;
		fib.tos = iph->tos;
		fib.tot_len = bpf_ntohs(iph->tot_len);
		fib.ipv4_src = iph->saddr;
		fib.ipv4_dst = iph->daddr;
		rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID);
		if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
			*reason = WANLB_XDP_PASS_FIB;
			return XDP_PASS;
		}
		wanlb_ipv4_decrease_ttl(iph);
	} else {
		struct ipv6hdr *ip6h = (void *)(eth + 1);

		if (eth->h_proto != bpf_htons(ETH_P_IPV6) || (void *)(ip6h + 1) > data_end)
			return XDP_PASS;
		if (ip6h->hop_limit <= 1 || ip6h->nexthdr == IPPROTO_HOPOPTS) {
			*reason = WANLB_XDP_PASS_TTL;
			return XDP_PASS;
		}
		fib.family = AF_INET6;
		fib.flowinfo = *(__be32 *)ip6h & bpf_htonl(0x0FFFFFFF);
		fib.tot_len = sizeof(*ip6h) + bpf_ntohs(ip6h->payload_len);
		__builtin_memcpy(fib.ipv6_src, &ip6h->saddr, sizeof(fib.ipv6_src));
		__builtin_memcpy(fib.ipv6_dst, &ip6h->daddr, sizeof(fib.ipv6_dst));
		rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_DIRECT | BPF_FIB_LOOKUP_TBID);
		if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
			*reason = WANLB_XDP_PASS_FIB;
			return XDP_PASS;
		}
		ip6h->hop_limit--;
	}
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	return bpf_redirect(fib.ifindex, 0);
}

/* Makes room for struct wanlb_xdp_meta at data_meta, where tc reads it.
 * A frame can arrive with metadata already in front of it (a driver's, or
 * left in a recycled page: BPF_PROG_RUN's live frames keep the metadata of
 * the page's previous use, so in the forwarding benchmark it grew by 16
 * bytes per pass through this program until the headroom ran out, on about
 * 1 frame in 14). When there is no room on top of it, it is dropped and ours
 * is made: before, the frame went up with the old bytes in front, and tc
 * trusted a decision made for another packet (those frames left through
 * the main table). Returns 0, or nonzero when there is no room at all: the
 * frame then goes up without metadata and tc classifies it. */
static __always_inline int wanlb_xdp_meta_room(struct xdp_md *ctx)
{
	const int len = sizeof(struct wanlb_xdp_meta);

	if (!bpf_xdp_adjust_meta(ctx, -len))
		return 0;
	/* Metadata lengths are multiples of 4 below 256: shrinking greedily
	 * by 128, 64, ..., 4 (each step succeeds only if that much is left)
	 * removes exactly all of it. */
#pragma unroll
	for (int k = 128; k >= 4; k /= 2)
		bpf_xdp_adjust_meta(ctx, k);
	return bpf_xdp_adjust_meta(ctx, -len);
}

/* To the stack with the decision in the metadata area, magic last. Packet
 * pointers are re-derived: the helpers before may have moved them. */
static __always_inline int wanlb_xdp_pass(struct xdp_md *ctx, __u32 wan_id, __u32 flags, __u32 reason)
{
	struct wanlb_xdp_meta *meta = (void *)(long)ctx->data_meta;

	if ((void *)(meta + 1) > (void *)(long)ctx->data)
		return XDP_PASS;
	meta->wan_id = wan_id;
	meta->flags = flags;
	meta->reason = reason;
	meta->magic = WANLB_XDP_META_MAGIC;
	return XDP_PASS;
}

SEC("xdp")
int wanlb_xdp_lan(struct xdp_md *ctx)
{
	struct wanlb_packet pkt = {};
	struct wanlb_choice choice;
	struct wanlb_xdp_meta *meta;
	struct wanlb_config *cfg;
	void *data, *data_end;
	__u32 zero = 0, len, reason = WANLB_XDP_PASS_UNBALANCED;
	int rc, act;

	/* Room for the decision first: without it, tc must do everything.
	 * The magic stays 0 until a pass path below writes the whole
	 * decision (wanlb_xdp_pass): a frame that leaves this program any
	 * other way carries no decision tc could mistake for one. */
	if (wanlb_xdp_meta_room(ctx))
		return XDP_PASS;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 1) > data)
		return XDP_PASS;
	meta->magic = 0;
	len = data_end - data;

	rc = wanlb_parse_frame(data, data_end, len, &pkt);
	if (rc == WANLB_PARSE_NOT_IP) {
		wanlb_count(WANLB_CNT_NON_IP);
		return wanlb_xdp_pass(ctx, 0, 0, WANLB_XDP_PASS_UNBALANCED);
	}
	if (rc != WANLB_PARSE_OK) {
		wanlb_count(WANLB_CNT_UNPARSABLE);
		return wanlb_xdp_pass(ctx, 0, 0, WANLB_XDP_PASS_UNBALANCED);
	}
	if (pkt.is_fragment)
		wanlb_count(WANLB_CNT_FRAGMENTS);

	cfg = bpf_map_lookup_elem(&wanlb_config, &zero);
	if (!cfg)
		return XDP_PASS; /* not configured: no decision, tc classifies */

	if (!wanlb_decide(ctx, &pkt, cfg, &choice)) /* unbalanced, counted */
		return wanlb_xdp_pass(ctx, 0, 0, WANLB_XDP_PASS_UNBALANCED);

	act = wanlb_xdp_forward(ctx, &pkt, &choice, &reason);
	if (act == XDP_REDIRECT) {
		wanlb_count_wan(choice.wan_id, len, choice.new_flow);
		wanlb_count(WANLB_CNT_XDP_REDIRECT);
		return XDP_REDIRECT;
	}
	return wanlb_xdp_pass(ctx, choice.wan_id, choice.new_flow ? WANLB_XDP_META_F_NEW_FLOW : 0, reason);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
