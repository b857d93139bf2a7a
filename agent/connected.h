// Destinations that must bypass balancing: the router's own addresses and
// its connected networks, read from netlink and followed as they change.
#pragma once

#include <vector>

#include "config.h"

namespace wanlb {

struct ConnectedSet {
  std::vector<Prefix> connected;  // on-link networks of the main table (e.g. LAN and WAN subnets)
  std::vector<Prefix> local;      // the router's own addresses as host prefixes (/32, /128)
};

// Snapshot of the current network namespace (both families). Link-local
// IPv6 networks (fe80::/64) and multicast are left out.
ConnectedSet read_connected();

// Subscribes to address and route changes (RTNLGRP_IPV4/6_IFADDR, _ROUTE).
class ConnectedWatcher {
 public:
  ConnectedWatcher();  // throws std::runtime_error
  ~ConnectedWatcher();
  ConnectedWatcher(const ConnectedWatcher&) = delete;
  ConnectedWatcher& operator=(const ConnectedWatcher&) = delete;
  int fd() const;  // poll for POLLIN
  // Read all pending notifications; true if any could change read_connected().
  bool drain();

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace wanlb
