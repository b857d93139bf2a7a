// Conntrack clean-up on failover (libnl-nf-3): connections source-NATed to
// a dead WAN's address can never work again, so their entries are deleted
// and the clients' retransmits create fresh ones through a live WAN at once
// instead of hanging until the entry times out.
#pragma once

#include <cstddef>
#include <vector>

#include "config.h"

namespace wanlb {

// Delete every conntrack entry (IPv4 and IPv6) whose reply-direction
// destination is one of `addrs` (the address the original source was NATed
// to). Entries of other addresses are untouched. Returns how many it deleted.
// Throws std::runtime_error if netlink fails.
size_t flush_conntrack_nated_to(const std::vector<IpAddr>& addrs);

}  // namespace wanlb
