// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The smallest tc program: the benchmark's baseline, measured in the same
 * run as wanlb_tc_lan so that ratios survive a noisy machine. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int wanlb_tc_empty(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
