/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Replies of connections that came in from a WAN.
 *
 * wanlb's nftables prerouting rule sets the conntrack mark of a connection
 * that arrives on a WAN to that WAN's fwmark. When the LAN host answers,
 * the reply is a new flow to the data path (nothing pinned it); here it is
 * looked up in conntrack with the kfunc bpf_skb_ct_lookup: if the packet is
 * in the REPLY direction of an entry whose mark names a WAN, the reply must
 * leave through that WAN (any other would source-NAT it to an address the
 * remote peer never talked to).
 *
 * The kfunc is unstable kernel API (net/netfilter/nf_conntrack_bpf.c):
 *  - struct bpf_ct_opts is declared here with the kernel's 16-byte layout
 *    (6.x added ct_zone_*; opts__sz = 12 is the older form, 16 the current);
 *  - the returned nf_conn is read through a CO-RE view holding only `mark`,
 *    relocated against the running kernel's BTF at load;
 *  - only TCP and UDP are accepted (anything else fails with -EPROTO), so
 *    ICMP/ICMPv6 replies are never looked up: an inbound ping's echo reply
 *    is balanced like any new flow.
 */
#ifndef WANLB_BPF_INBOUND_H
#define WANLB_BPF_INBOUND_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "wanlb/dp_shared.h"
#include "parsing.h"
#include "wans.h"

#define WANLB_CT_CURRENT_NETNS (-1) /* BPF_F_CURRENT_NETNS */
#define WANLB_CT_DIR_REPLY 1        /* IP_CT_DIR_REPLY */

struct bpf_ct_opts {
	__s32 netns_id;
	__s32 error;
	__u8 l4proto;
	__u8 dir;
	__u16 ct_zone_id;
	__u8 ct_zone_dir;
	__u8 reserved[3];
};

struct nf_conn {
	unsigned int mark;
} __attribute__((preserve_access_index));

#ifdef WANLB_XDP
extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *xdp_ctx, struct bpf_sock_tuple *bpf_tuple,
					 __u32 tuple__sz, struct bpf_ct_opts *opts, __u32 opts__sz) __ksym;
#else
extern struct nf_conn *bpf_skb_ct_lookup(struct __sk_buff *skb_ctx, struct bpf_sock_tuple *bpf_tuple,
					 __u32 tuple__sz, struct bpf_ct_opts *opts, __u32 opts__sz) __ksym;
#endif
extern void bpf_ct_release(struct nf_conn *ct) __ksym;

/* The WAN id a reply of an inbound connection must leave through; 0 when
 * the packet is not such a reply (no entry, original direction, no WAN
 * mark, not TCP/UDP, a fragment).
 *
 * A global (non-inlined) function: verified once on its own, so the
 * WAN-id scan's 64 exits do not each drag a constant id through the rest of
 * the program in the verifier (see wanlb_policy_find).
 *
 * The tc program (skb) and the XDP program (xdp_md, WANLB_XDP defined) each
 * get their own copy, with the conntrack kfunc of their program type. */
#ifdef WANLB_XDP
__attribute__((noinline)) int wanlb_inbound_wan(struct xdp_md *skb, const struct wanlb_packet *pkt,
						 __u32 mark_mask)
#else
__attribute__((noinline)) int wanlb_inbound_wan(struct __sk_buff *skb, const struct wanlb_packet *pkt,
						 __u32 mark_mask)
#endif
{
	const struct wanlb_flow_key *key;
	struct bpf_sock_tuple tuple = {};
	struct bpf_ct_opts opts = {
		.netns_id = WANLB_CT_CURRENT_NETNS,
	};
	struct nf_conn *ct;
	__u32 tuple_size, mark;
	__u8 dir;

	if (!pkt)
		return 0;
	key = &pkt->key;
	opts.l4proto = key->proto;
	if (pkt->is_fragment || (key->proto != IPPROTO_TCP && key->proto != IPPROTO_UDP))
		return 0;
	if (key->family == AF_INET) {
		tuple.ipv4.saddr = key->saddr[0];
		tuple.ipv4.daddr = key->daddr[0];
		tuple.ipv4.sport = key->sport;
		tuple.ipv4.dport = key->dport;
		tuple_size = sizeof(tuple.ipv4);
	} else {
		__builtin_memcpy(tuple.ipv6.saddr, key->saddr, sizeof(tuple.ipv6.saddr));
		__builtin_memcpy(tuple.ipv6.daddr, key->daddr, sizeof(tuple.ipv6.daddr));
		tuple.ipv6.sport = key->sport;
		tuple.ipv6.dport = key->dport;
		tuple_size = sizeof(tuple.ipv6);
	}

#ifdef WANLB_XDP
	ct = bpf_xdp_ct_lookup(skb, &tuple, tuple_size, &opts, sizeof(opts));
#else
	ct = bpf_skb_ct_lookup(skb, &tuple, tuple_size, &opts, sizeof(opts));
#endif
	if (!ct)
		return 0;
	mark = ct->mark;
	dir = opts.dir;
	bpf_ct_release(ct);

	if (dir != WANLB_CT_DIR_REPLY)
		return 0;
	return wanlb_wan_by_mark(mark & mark_mask, mark_mask);
}

#endif /* WANLB_BPF_INBOUND_H */
