// Destinations that must bypass balancing: the router's own addresses and
// its connected networks, read from netlink and followed as they change.
#pragma once

#include <optional>
#include <string>
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

// Gateway of the main table's default route through `ifindex` (lowest
// metric), e.g. the one a DHCP client installed; nullopt if there is none.
std::optional<IpAddr> main_default_gateway(int ifindex, int family);

// Addresses configured on `ifindex` (IPv6 link-local left out).
std::vector<IpAddr> interface_addresses(int ifindex);

// True if the interface exists, is up and has carrier (IFF_RUNNING).
bool interface_carrier(const std::string& ifname);

// Subscribes to address, route and link changes (RTNLGRP_IPV4/6_IFADDR, _ROUTE).
class ConnectedWatcher {
 public:
  ConnectedWatcher();  // throws std::runtime_error
  ~ConnectedWatcher();
  ConnectedWatcher(const ConnectedWatcher&) = delete;
  ConnectedWatcher& operator=(const ConnectedWatcher&) = delete;
  static constexpr unsigned kLink = 1;       // a link changed (carrier, new or gone)
  static constexpr unsigned kAddrRoute = 2;  // an address or route changed
  int fd() const;  // poll for POLLIN
  // Read all pending notifications; returns the k* bits of what changed
  // (both when notifications were lost and everything must be re-read).
  unsigned drain();

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace wanlb
