/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing for the LAN data path: Ethernet, up to two VLAN tags,
 * IPv4 (options allowed) or IPv6 (bounded extension-header walk), then the
 * ports of TCP/UDP and the echo identifier of ICMP/ICMPv6.
 *
 * Result: a wanlb_flow_key (the connection as seen from the LAN).
 *
 * Policy for what cannot be parsed: the caller passes it untouched
 * (TC_ACT_OK, no mark) and counts it; a router must forward what it does not
 * understand, it just does not balance it.
 *
 * Fragment rule: every fragment of a datagram (the first one included) is
 * keyed with sport = dport = 0. Later fragments carry no ports, so this is
 * the only choice that puts all fragments of one datagram on the same WAN
 * under every classifier. With an address-only classifier a fragmented
 * datagram lands on the same WAN as the unfragmented packets of its flow;
 * with a port-based classifier it may land on another one.
 */
#ifndef WANLB_BPF_PARSING_H
#define WANLB_BPF_PARSING_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "wanlb/dp_shared.h"

#define WANLB_VLAN_MAX_DEPTH 2
#define WANLB_IPV6_EXT_MAX_CHAIN 8

#define WANLB_IP_MF 0x2000     /* more fragments */
#define WANLB_IP_OFFSET 0x1fff /* fragment offset, 8-byte units */

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

enum wanlb_parse_result {
	WANLB_PARSE_OK = 0,
	WANLB_PARSE_NOT_IP = 1, /* ARP, LLDP, ...: not ours to balance */
	WANLB_PARSE_BAD = 2,    /* truncated or malformed */
};

struct wanlb_packet {
	struct wanlb_flow_key key;
	__u8 is_fragment;
	__u8 tcp_syn_only; /* SYN without ACK: a connection attempt */
	__u8 tcp_ack;      /* ACK set: the client side of an established connection */
};

/* ICMP and ICMPv6 echo share this layout; defined here because the UAPI
 * <linux/icmp.h> drags in libc socket headers that do not build for BPF. */
struct wanlb_icmp_echo_hdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 id;
	__be16 sequence;
};

#define WANLB_ICMP_ECHOREPLY 0
#define WANLB_ICMP_ECHO 8
#define WANLB_ICMPV6_ECHO_REQUEST 128
#define WANLB_ICMPV6_ECHO_REPLY 129

struct wanlb_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* The part of an IPv6 extension header common to hop-by-hop, routing,
 * destination options and AH: next header and length. */
struct wanlb_ipv6_opt_hdr {
	__u8 nexthdr;
	__u8 hdrlen;
};

struct wanlb_ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset << 3 | M flag */
	__be32 identification;
};

static __always_inline int wanlb_is_vlan(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/* Ports (or echo identifier) at l4; keeps them zero for other protocols. */
static __always_inline int wanlb_parse_l4(void *l4, void *data_end, struct wanlb_packet *pkt)
{
	struct wanlb_flow_key *key = &pkt->key;

	switch (key->proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end)
			return WANLB_PARSE_BAD;
		key->sport = th->source;
		key->dport = th->dest;
		pkt->tcp_syn_only = th->syn && !th->ack;
		pkt->tcp_ack = th->ack;
		break;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end)
			return WANLB_PARSE_BAD;
		key->sport = uh->source;
		key->dport = uh->dest;
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		struct wanlb_icmp_echo_hdr *ih = l4;

		if ((void *)(ih + 1) > data_end)
			return WANLB_PARSE_BAD;
		/* Echo: the identifier tells ping sessions apart, like conntrack. */
		if (key->proto == IPPROTO_ICMP ?
			    (ih->type == WANLB_ICMP_ECHO || ih->type == WANLB_ICMP_ECHOREPLY) :
			    (ih->type == WANLB_ICMPV6_ECHO_REQUEST || ih->type == WANLB_ICMPV6_ECHO_REPLY))
			key->sport = ih->id;
		break;
	}
	default:
		break; /* other protocols: addresses only */
	}
	return WANLB_PARSE_OK;
}

/* Lengths in the IP header are checked against the whole packet
 * (pkt_len = skb->len), not against data_end: a GRO'd or paged skb keeps
 * only its headers in the linear area that data_end bounds. */
static __always_inline int wanlb_parse_ipv4(void *l3, void *data_end, __u32 l3_room, struct wanlb_packet *pkt)
{
	struct iphdr *iph = l3;
	__u32 hdr_len;

	if ((void *)(iph + 1) > data_end)
		return WANLB_PARSE_BAD;
	if (iph->version != 4 || iph->ihl < 5)
		return WANLB_PARSE_BAD;
	hdr_len = iph->ihl * 4;
	if (l3 + hdr_len > data_end)
		return WANLB_PARSE_BAD; /* options cut off */
	/* tot_len beyond what arrived means truncation; less is Ethernet padding. */
	if (bpf_ntohs(iph->tot_len) < hdr_len || bpf_ntohs(iph->tot_len) > l3_room)
		return WANLB_PARSE_BAD;

	pkt->key.family = AF_INET;
	pkt->key.proto = iph->protocol;
	pkt->key.saddr[0] = iph->saddr;
	pkt->key.daddr[0] = iph->daddr;

	if (iph->frag_off & bpf_htons(WANLB_IP_MF | WANLB_IP_OFFSET)) {
		pkt->is_fragment = 1; /* see the fragment rule at the top */
		return WANLB_PARSE_OK;
	}
	return wanlb_parse_l4(l3 + hdr_len, data_end, pkt);
}

static __always_inline int wanlb_is_ipv6_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_AH;
}

static __always_inline int wanlb_parse_ipv6(void *l3, void *data_end, __u32 l3_room, struct wanlb_packet *pkt)
{
	struct ipv6hdr *ip6h = l3;
	void *cursor;
	__u8 nexthdr;
	int i;

	if ((void *)(ip6h + 1) > data_end)
		return WANLB_PARSE_BAD;
	if (ip6h->version != 6)
		return WANLB_PARSE_BAD;
	if (sizeof(*ip6h) + bpf_ntohs(ip6h->payload_len) > l3_room)
		return WANLB_PARSE_BAD;

	pkt->key.family = AF_INET6;
	__builtin_memcpy(pkt->key.saddr, &ip6h->saddr, 16);
	__builtin_memcpy(pkt->key.daddr, &ip6h->daddr, 16);

	cursor = ip6h + 1;
	nexthdr = ip6h->nexthdr;
	/* Walk at most WANLB_IPV6_EXT_MAX_CHAIN extension headers; a longer
	 * chain is treated as unparsable (passed unmarked, counted). A bounded
	 * loop, not unrolled: the verifier proves it terminates. */
	for (i = 0; i <= WANLB_IPV6_EXT_MAX_CHAIN; i++) {
		if (nexthdr == IPPROTO_FRAGMENT) {
			struct wanlb_ipv6_frag_hdr *fh = cursor;

			if ((void *)(fh + 1) > data_end)
				return WANLB_PARSE_BAD;
			pkt->is_fragment = 1; /* see the fragment rule at the top */
			pkt->key.proto = fh->nexthdr;
			return WANLB_PARSE_OK;
		}
		if (!wanlb_is_ipv6_ext(nexthdr)) {
			pkt->key.proto = nexthdr;
			return wanlb_parse_l4(cursor, data_end, pkt);
		}
		if (i == WANLB_IPV6_EXT_MAX_CHAIN)
			break;

		struct wanlb_ipv6_opt_hdr *opt = cursor;
		__u32 len;

		if ((void *)(opt + 1) > data_end)
			return WANLB_PARSE_BAD;
		/* AH counts 4-byte units minus 2; the others 8-byte units minus 1. */
		len = nexthdr == IPPROTO_AH ? ((__u32)opt->hdrlen + 2) * 4 : ((__u32)opt->hdrlen + 1) * 8;
		nexthdr = opt->nexthdr;
		cursor += len;
	}
	return WANLB_PARSE_BAD;
}

/* Parse a frame starting at its Ethernet header; pkt_len is the length of
 * the whole frame, linear or not. */
static __always_inline int wanlb_parse_frame(void *data, void *data_end, __u32 pkt_len, struct wanlb_packet *pkt)
{
	struct ethhdr *eth = data;
	void *cursor;
	__be16 proto;
	int i;

	if ((void *)(eth + 1) > data_end)
		return WANLB_PARSE_BAD;
	proto = eth->h_proto;
	cursor = eth + 1;

#pragma unroll
	for (i = 0; i < WANLB_VLAN_MAX_DEPTH; i++) {
		struct wanlb_vlan_hdr *vh = cursor;

		if (!wanlb_is_vlan(proto))
			break;
		if ((void *)(vh + 1) > data_end)
			return WANLB_PARSE_BAD;
		proto = vh->encap_proto;
		cursor = vh + 1;
	}

	__u32 l3_off = cursor - data;
	__u32 l3_room = pkt_len > l3_off ? pkt_len - l3_off : 0;

	if (proto == bpf_htons(ETH_P_IP))
		return wanlb_parse_ipv4(cursor, data_end, l3_room, pkt);
	if (proto == bpf_htons(ETH_P_IPV6))
		return wanlb_parse_ipv6(cursor, data_end, l3_room, pkt);
	/* A third VLAN tag lands here too: not parsed, so not balanced. */
	return WANLB_PARSE_NOT_IP;
}

#endif /* WANLB_BPF_PARSING_H */
