// wanlb's nftables table (`table inet wanlb`), through libnftables:
//  - prerouting: a connection that starts on a WAN gets that WAN's mark in
//    its conntrack mark, so the data path pins its replies to that WAN
//    (port forwards and services on the router answer through the WAN the
//    client used);
//  - postrouting: source NAT (masquerade) per WAN and address family.
// The table is replaced as a whole in one transaction, and only this table
// is ever touched: other tables (the user's firewall, port forwards) stay.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config.h"

struct nft_ctx;  // libnftables

namespace wanlb {

constexpr const char* kNftTable = "wanlb";  // family inet

struct NftWan {
  std::string ifname;
  uint32_t mark = 0;  // the WAN's fwmark (inside mark_mask)
  NatMode nat4 = NatMode::Masquerade;
  NatMode nat6 = NatMode::Masquerade;
};

// The ruleset text (nft syntax) for these WANs. Pure, for tests and `check`.
// tag_inbound: the conntrack tagging of connections that start on a WAN
// (`inbound: conntrack`).
std::string render_nft_ruleset(const std::vector<NftWan>& wans, uint32_t mark_mask, bool tag_inbound = true);

class Nft {
 public:
  Nft();  // throws std::runtime_error if libnftables cannot be set up
  ~Nft();
  Nft(const Nft&) = delete;
  Nft& operator=(const Nft&) = delete;

  // Replace `table inet wanlb` with `ruleset` (as render_nft_ruleset makes
  // it) atomically: create it if missing. Throws with nft's error text.
  void apply(const std::string& ruleset);
  // Delete `table inet wanlb` if it exists. Returns true if it did.
  bool remove();
  bool exists();
  // `nft list table inet wanlb`, or "" if it does not exist.
  std::string list();

 private:
  ::nft_ctx* ctx_;
  std::string run(const std::string& cmd, bool* ok);
};

}  // namespace wanlb
