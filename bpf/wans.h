/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Looking up WANs: by id (live or not) and by fwmark. */
#ifndef WANLB_BPF_WANS_H
#define WANLB_BPF_WANS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "wanlb/dp_shared.h"
#include "maps.h"

/* The WAN if it exists and is up, else NULL. */
static __always_inline struct wanlb_wan *wanlb_live_wan(__u32 wan_id)
{
	struct wanlb_wan *wan = bpf_map_lookup_elem(&wanlb_wans, &wan_id);

	if (!wan || !(wan->flags & WANLB_WAN_F_UP))
		return NULL;
	return wan;
}

/* The WAN if it is configured, up or not, else NULL. */
static __always_inline struct wanlb_wan *wanlb_configured_wan(__u32 wan_id)
{
	struct wanlb_wan *wan = bpf_map_lookup_elem(&wanlb_wans, &wan_id);

	if (!wan || !(wan->flags & WANLB_WAN_F_CONFIGURED))
		return NULL;
	return wan;
}

static __always_inline int wanlb_wan_has_mark(__u32 wan_id, __u32 mark, __u32 mark_mask)
{
	struct wanlb_wan *wan = wanlb_configured_wan(wan_id);

	return wan && (wan->mark & mark_mask) == mark;
}

/* Id of the configured WAN whose mark is `mark` (already masked, non-zero);
 * 0 if none. The agent's default mark is id << ctz(mark_mask), so that id
 * is tried first; explicit marks (any value inside the mask) fall back to a
 * bounded scan of all ids. No reverse map: this runs once per inbound
 * connection, not per packet, and a second map would have to be kept in
 * step with wanlb_wans by every writer. */
static __always_inline __u32 wanlb_wan_by_mark(__u32 mark, __u32 mark_mask)
{
	__u32 unit = mark_mask & -mark_mask; /* lowest bit of the mask */
	__u32 id;

	if (!mark || !unit)
		return 0;
	id = mark / unit;
	if (id >= 1 && id <= WANLB_MAX_WANS && wanlb_wan_has_mark(id, mark, mark_mask))
		return id;
	for (id = 1; id <= WANLB_MAX_WANS; id++)
		if (wanlb_wan_has_mark(id, mark, mark_mask))
			return id;
	return 0;
}

#endif /* WANLB_BPF_WANS_H */
