/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one contract between the BPF data path (bpf/) and the agent (agent/).
 *
 * Every struct that crosses the user/kernel boundary lives here, with
 * fixed-width types and explicit padding, so that both compilers lay it out
 * identically. tests/unit/shared_layout_test.cpp pins sizes and offsets with
 * static_assert: change a struct and that test tells you what you broke.
 *
 * Byte order: addresses and ports are stored exactly as on the wire (network
 * order), so the data path never swaps and bpftool shows them as in a capture.
 */
#ifndef WANLB_DP_SHARED_H
#define WANLB_DP_SHARED_H

#include <linux/types.h>

/* WAN ids are 1..WANLB_MAX_WANS; id 0 means "no WAN" (an empty slot is visible). */
#ifndef WANLB_MAX_WANS
#define WANLB_MAX_WANS 64
#endif

/* Slot table size: a prime, as Maglev needs, large enough that a weight
 * of 1 next to 63 weights of 1000 still owns slots (65537 / 63001 > 1). */
#ifndef WANLB_SLOT_COUNT
#define WANLB_SLOT_COUNT 65537
#endif

#define WANLB_DEFAULT_FLOW_ENTRIES 262144
#define WANLB_WAN_NAME_LEN 16

/* tc attachment identity: how cleanup and adoption recognise our filter. */
#define WANLB_TC_HANDLE 0x57a1
#define WANLB_TC_PRIORITY 0x57a1

/* The nine RouterOS per-connection-classifier field sets. Values are part of
 * the map ABI (wanlb_config.classifier): append, never renumber. */
enum wanlb_classifier {
	WANLB_CLS_SRC_ADDRESS = 0,
	WANLB_CLS_DST_ADDRESS = 1,
	WANLB_CLS_BOTH_ADDRESSES = 2,
	WANLB_CLS_SRC_PORT = 3,
	WANLB_CLS_DST_PORT = 4,
	WANLB_CLS_BOTH_PORTS = 5,
	WANLB_CLS_SRC_ADDRESS_AND_PORT = 6,
	WANLB_CLS_DST_ADDRESS_AND_PORT = 7,
	WANLB_CLS_BOTH_ADDRESSES_AND_PORTS = 8,
	WANLB_CLS_ROUND_ROBIN = 9, /* RouterOS nth: every new connection takes the next slot */
	WANLB_CLS_COUNT = 10,
};

/* Key of the conntrack-style flow map, as seen on the LAN side.
 * IPv4 addresses use word [0] and leave [1..3] zero.
 * sport/dport: TCP/UDP ports; for ICMP/ICMPv6 echo the identifier is in
 * sport; for fragments and protocols without ports both are zero. */
struct wanlb_flow_key {
	__be32 saddr[4];
	__be32 daddr[4];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family; /* AF_INET (2) or AF_INET6 (10) */
	__u8 pad[2];
};

/* Value of the flow map. */
struct wanlb_flow {
	__u64 last_seen_ns; /* CLOCK_MONOTONIC (coarse), refreshed at most once a second */
	__u32 wan_id;
	__u32 flags; /* WANLB_FLOW_F_* */
};

/* TCP: the client has acknowledged (the handshake completed). A bare SYN on
 * such an entry is a new connection reusing the 5-tuple, and is classified
 * afresh, as conntrack does; a SYN on an entry without it is a retransmit
 * and keeps its WAN. */
#define WANLB_FLOW_F_ESTABLISHED (1U << 0)
/* The connection came in from a WAN (conntrack mark set by wanlb's nftables
 * prerouting rule): its replies are pinned to that WAN, never hashed. */
#define WANLB_FLOW_F_INBOUND (1U << 1)
/* Chosen by a policy rather than by the hash. */
#define WANLB_FLOW_F_POLICY (1U << 2)

#define WANLB_WAN_F_CONFIGURED (1U << 0)
#define WANLB_WAN_F_UP (1U << 1)
/* Drained by the operator: takes no new connections, keeps its flows. */
#define WANLB_WAN_F_DRAINED (1U << 2)
/* No source NAT on this WAN for IPv4 (`nat: none`) / IPv6 (`nat6: none`):
 * the XDP fast path may forward its packets itself (bpf/wanlb_xdp.bpf.c);
 * with NAT they must go through the stack. */
#define WANLB_WAN_F_NO_NAT (1U << 3)
#define WANLB_WAN_F_NO_NAT6 (1U << 4)

/* Health of a WAN as the agent's prober sees it (wanlb_wan.state). */
enum wanlb_wan_state {
	WANLB_STATE_UP = 0,
	WANLB_STATE_DOWN = 1,
	WANLB_STATE_DEGRADED = 2,
	WANLB_STATE_PROBING = 3,
};

#define WANLB_REASON_LEN 64

/* One WAN, array index = WAN id. The data path reads only mark and flags
 * (WANLB_WAN_F_UP = carries traffic); the rest is there so that
 * `wanlb status` and `bpftool map dump` explain themselves without the
 * config file or the agent. */
struct wanlb_wan {
	char name[WANLB_WAN_NAME_LEN];
	__be32 gateway[4]; /* all zero: point-to-point, route via the device */
	__u32 ifindex;
	__u32 mark;    /* already shifted into mark_mask */
	__u32 table;   /* routing table of this WAN */
	__u32 weight;  /* 1..1000 */
	__u32 flags;   /* WANLB_WAN_F_* */
	__u8 gw_family;
	__u8 tier;     /* 1..16 */
	__u8 pad[2];
	__u32 state;   /* enum wanlb_wan_state */
	__u32 rtt_us;  /* mean probe RTT over the quality window, 0 = unknown */
	__u32 loss_ppm; /* probe loss over the quality window */
	__u32 pad2;
	__u64 since_ms; /* CLOCK_REALTIME ms of the last state change */
	char reason[WANLB_REASON_LEN]; /* why the last state change happened */
};

#define WANLB_CFG_F_STICKY_PAIR (1U << 0) /* new connections follow their address pair's WAN */
#define WANLB_CFG_F_INBOUND (1U << 1)     /* look up conntrack for replies of inbound connections */

/* Run-time settings of the data path: array map with one entry. */
struct wanlb_config {
	__u32 classifier;  /* enum wanlb_classifier */
	__u32 mark_mask;   /* bits of skb->mark owned by wanlb; others are kept */
	__u32 hash_seed;   /* kept across restarts so the slot choice is stable */
	__u32 flags;       /* WANLB_CFG_F_* */
	__u32 n_policies;  /* wanlb_policies[0 .. n_policies-1] are evaluated in order */
	__u32 sticky_timeout_s; /* a pair idle longer than this is free again */
};

/* Per-WAN counters (per-CPU array, index = WAN id, summed in user space). */
struct wanlb_wan_stats {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows;
};

/* Global counters (per-CPU array, index = enum value). */
enum wanlb_counter {
	WANLB_CNT_BYPASSED = 0,   /* destination local, connected or configured bypass */
	WANLB_CNT_UNPARSABLE = 1, /* truncated or malformed IP packet, passed unmarked */
	WANLB_CNT_NO_WAN = 2,     /* slot table empty: no WAN available */
	WANLB_CNT_NON_IP = 3,     /* ARP and other non-IP frames, passed unmarked */
	WANLB_CNT_FRAGMENTS = 4,  /* IP fragments seen (classified by addresses only) */
	WANLB_CNT_INBOUND = 5,    /* replies of inbound connections pinned to their WAN */
	WANLB_CNT_STICKY = 6,     /* new connections that followed their address pair */
	WANLB_CNT_XDP_REDIRECT = 7, /* packets the XDP fast path forwarded itself (bypassing the stack) */
	WANLB_CNT_COUNT = 8,
};

/* ------------------------------------------------------ XDP -> tc metadata
 * On a LAN interface in `mode: xdp`, wanlb_xdp_lan classifies every frame.
 * What it cannot forward itself (NAT, local destinations, unresolved
 * neighbours, fragments, ...) it passes to the stack with this struct in
 * the frame's metadata area (bpf_xdp_adjust_meta); wanlb_tc_lan on the same
 * interface finds it at __sk_buff->data_meta and applies the decision
 * instead of classifying again, so every counter moves once and the flow's
 * WAN is the same either way. */
#define WANLB_XDP_META_MAGIC 0x57a1d3e7U
#define WANLB_XDP_META_F_NEW_FLOW (1U << 0) /* the packet started a flow (wan_stats.new_flows) */

struct wanlb_xdp_meta {
	__u32 magic;   /* WANLB_XDP_META_MAGIC */
	__u32 wan_id;  /* 0: leave unmarked (already counted: bypassed, non-IP, ...) */
	__u32 flags;   /* WANLB_XDP_META_F_* */
	__u32 reason;  /* enum wanlb_xdp_pass_reason: why XDP did not forward it (diagnostics) */
};

enum wanlb_xdp_pass_reason {
	WANLB_XDP_PASS_UNBALANCED = 0, /* no WAN: bypassed, non-IP, unparsable, no WAN */
	WANLB_XDP_PASS_NAT = 1,        /* the WAN source-NATs this family */
	WANLB_XDP_PASS_INBOUND = 2,    /* reply of an inbound connection (may be DNATed) */
	WANLB_XDP_PASS_FRAGMENT = 3,
	WANLB_XDP_PASS_L2 = 4,         /* VLAN tag, multicast destination MAC */
	WANLB_XDP_PASS_TTL = 5,        /* TTL / hop limit would expire, IPv6 hop-by-hop options */
	WANLB_XDP_PASS_FIB = 6,        /* no route in the WAN's table, neighbour unresolved, MTU, ... */
};

/* LPM trie keys for bypass prefixes. */
struct wanlb_lpm_v4 {
	__u32 prefixlen;
	__be32 addr;
};

struct wanlb_lpm_v6 {
	__u32 prefixlen;
	__be32 addr[4];
};

/* Bypass value: why a prefix is bypassed (bit set; several may be set). */
#define WANLB_BYPASS_CONFIG (1U << 0)    /* bypass: in the config */
#define WANLB_BYPASS_CONNECTED (1U << 1) /* a connected network (from netlink) */
#define WANLB_BYPASS_LOCAL (1U << 2)     /* an address of the router itself */

/* ------------------------------------------------------------- policies
 * An ordered list evaluated for new connections (after bypass, before the
 * hash): the first policy whose every set condition matches decides.
 * Prefix conditions are LPM tries per family and direction whose value is a
 * bitmask of the policies that contain the key's address (the agent stores,
 * for every prefix, the union over all prefixes that cover it, so the
 * longest match alone answers "which policies contain this address"). */
#ifndef WANLB_MAX_POLICIES
#define WANLB_MAX_POLICIES 64
#endif
#define WANLB_POLICY_MAX_WANS 8
#define WANLB_POLICY_MAX_PORTS 8
#define WANLB_POLICY_PREFIXES 1048576 /* per trie */

#define WANLB_POLICY_F_SRC (1U << 0)   /* source must be in the policy's source prefixes */
#define WANLB_POLICY_F_DST (1U << 1)   /* destination must be in its destination prefixes */
#define WANLB_POLICY_F_PROTO (1U << 2) /* IP protocol must equal proto */
#define WANLB_POLICY_F_PORTS (1U << 3) /* destination port in one of ports[] (TCP/UDP) */

enum wanlb_policy_action {
	WANLB_ACT_WANS = 0,    /* the first live WAN of wans[]; none live: balance */
	WANLB_ACT_BALANCE = 1, /* the slot table, as without policies */
	WANLB_ACT_BYPASS = 2,  /* no mark: the main table */
};

struct wanlb_port_range {
	__u16 lo; /* host byte order, inclusive */
	__u16 hi;
};

struct wanlb_policy {
	__u32 flags;  /* WANLB_POLICY_F_*; 0 matches everything */
	__u32 action; /* enum wanlb_policy_action */
	__u8 proto;
	__u8 n_wans;
	__u8 n_ports;
	__u8 pad;
	__u8 wans[WANLB_POLICY_MAX_WANS]; /* WAN ids in preference order */
	struct wanlb_port_range ports[WANLB_POLICY_MAX_PORTS];
	char name[16]; /* for status and bpftool only */
};

/* --------------------------------------------------------- sticky pairs */
struct wanlb_pair_key {
	__be32 saddr[4];
	__be32 daddr[4];
	__u8 family;
	__u8 pad[3];
};

struct wanlb_pair {
	__u64 last_seen_ns; /* CLOCK_MONOTONIC (coarse) */
	__u32 wan_id;
	__u32 pad;
};

#endif /* WANLB_DP_SHARED_H */
