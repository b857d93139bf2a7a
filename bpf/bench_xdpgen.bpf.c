// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Benchmark traffic, made in the kernel (bench/pktgen.cpp --engine xdp).
 *
 * bench_xdpgen_tx runs under BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES:
 * the kernel hands it one prepared UDP/IPv4 frame after another (recycled
 * page-pool pages) and sends whatever it redirects, as XDP frames, into the
 * generator's veth. Every run rewrites the frame for the next flow, so the
 * router sees packets of many flows interleaved, as from a busy LAN, without
 * the generator paying for an skb or a socket. Its own cost is process
 * time, the router's is softirq time, so the two can be told apart on one CPU.
 *
 * The pages are recycled and the router writes into them (TTL, Ethernet
 * addresses, NAT), so every run first copies the whole header back from
 * the template `hdr` (the frame of flow 0, made by wanlb-pktgen).
 *
 *   flow i = (run / burst) % flows:
 *                          source       src_base + i % src_count
 *                          destination  dst_base + i % dst_count
 *                          UDP source   sport_base + i
 *
 * bench_xdpgen_sink is the sinks' drop: UDP is dropped as the first thing
 * (the benchmark's traffic), everything else (the agent's ICMP probes and
 * ARP) goes on to the stack.
 *
 * bench_tc_mark is the forwarding benchmark's floor of a tc design (method
 * "mark"): the least a program that steers by fwmark can do. It hashes the
 * address pair of an IPv4 packet to a mark 1..mark_wans and nothing else:
 * no flow table, no counters, no bypass, no failover. With `fwmark i lookup
 * TABLE_i` rules, what it costs over plain routing is what any tc-mark plus
 * policy-routing design pays before doing anything useful.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

const volatile __u32 out_ifindex;
const volatile __u32 flows = 1;
const volatile __u32 burst = 1; /* frames in a row for one flow (a packet train) */
const volatile __u32 src_base, src_count = 1; /* host byte order */
const volatile __u32 dst_base, dst_count = 1;
const volatile __u16 sport_base;
const volatile __u32 mark_wans = 1; /* bench_tc_mark: marks 1..mark_wans */
/* Not const: the compiler would fold a const array's zeroes into the code. */
__u8 hdr[sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr)];

__u64 runs; /* one generator thread: no atomics needed */

static __always_inline __u16 ipv4_csum(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*ip) / 2); i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

SEC("xdp")
int bench_xdpgen_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	__u32 i;

	if ((void *)(udp + 1) > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(data, hdr, sizeof(hdr));
	i = (__u32)(runs++ / burst % flows);
	ip->saddr = bpf_htonl(src_base + i % src_count);
	ip->daddr = bpf_htonl(dst_base + i % dst_count);
	ip->check = 0;
	ip->check = ipv4_csum(ip);
	udp->source = bpf_htons((__u16)(sport_base + i));
	udp->check = 0; /* optional for UDP over IPv4 */
	return bpf_redirect(out_ifindex, 0);
}

/* The IPv4 header of an untagged Ethernet frame, or NULL. */
static __always_inline struct iphdr *ipv4_of(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;
	return ip;
}

SEC("xdp")
int bench_xdpgen_sink(struct xdp_md *ctx)
{
	struct iphdr *ip = ipv4_of((void *)(long)ctx->data, (void *)(long)ctx->data_end);

	return ip && ip->protocol == IPPROTO_UDP ? XDP_DROP : XDP_PASS;
}

SEC("tc")
int bench_tc_mark(struct __sk_buff *skb)
{
	struct iphdr *ip = ipv4_of((void *)(long)skb->data, (void *)(long)skb->data_end);
	__u32 h;

	if (!ip)
		return TC_ACT_OK;
	/* Fibonacci hashing of the pair; the top bits are the well-mixed ones. */
	h = (ip->saddr ^ ip->daddr) * 0x9e3779b1U;
	skb->mark = 1 + (h >> 16) % mark_wans;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
