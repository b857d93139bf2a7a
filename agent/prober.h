// Sends health probes through each WAN and matches the replies.
//
// Every probe leaves through its WAN only: the socket is bound to the WAN's
// interface (SO_BINDTODEVICE) and carries the WAN's fwmark (SO_MARK), so
// the WAN's own routing table routes it and no other WAN can answer for it.
// ICMP/ICMPv6 echo replies count only when identifier, sequence, source
// address and a random per-run cookie in the payload all match a probe in
// flight; anything else is counted as ignored. ARP (IPv4 gateways): a reply
// counts when it comes from the gateway's address on that interface while
// a request is in flight.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "health.h"

namespace wanlb {

struct ProbeSpec {
  uint32_t wan_id = 0;
  std::string ifname;
  uint32_t mark = 0;
  ProbeMethod method = ProbeMethod::Icmp;
  std::vector<IpAddr> targets;  // resolved: "gateway" replaced by the current gateway
  uint32_t timeout_ms = 500;
  bool operator==(const ProbeSpec& o) const {
    return wan_id == o.wan_id && ifname == o.ifname && mark == o.mark && method == o.method &&
           targets == o.targets && timeout_ms == o.timeout_ms;
  }
};

struct FinishedRound {
  uint32_t wan_id;
  RoundResult result;
};

class Prober {
 public:
  // `cookie`: random per agent run; a reply must echo it back.
  explicit Prober(uint64_t cookie);
  ~Prober();
  Prober(const Prober&) = delete;
  Prober& operator=(const Prober&) = delete;

  // Set what to probe. WANs whose spec changed get fresh sockets; rounds in
  // flight for a changed or removed WAN are dropped (never reported).
  // Throws std::runtime_error naming the WAN if a socket cannot be set up.
  void configure(const std::vector<ProbeSpec>& specs);

  // Start a round for this WAN now (one probe per target).
  void send_round(uint32_t wan_id, uint64_t now_ns);

  // Sockets to poll for POLLIN.
  std::vector<int> fds() const;
  // Read every pending reply on `fd` and match it.
  void on_readable(int fd, uint64_t now_ns);
  // Rounds that are complete (all answered) or timed out by `now_ns`.
  std::vector<FinishedRound> collect(uint64_t now_ns);

  uint64_t ignored_replies() const;  // stray, spoofed or late replies

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wanlb
