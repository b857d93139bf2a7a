// A small builder of raw Ethernet frames for BPF_PROG_TEST_RUN.
//
//   Frame f = Packet::ipv4("10.0.0.1", "192.0.2.7").vlan(10).tcp(40000, 443).payload(100).build();
//
// The builder keeps a description and serialises it in build(), so the order
// of calls does not matter, except for IPv6 extension headers, which are
// chained in the order they are added. Lengths, IHL and checksums are
// computed unless overridden (the overrides exist to build malformed frames).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wanlb_test {

using Frame = std::vector<uint8_t>;

// The first n bytes of a frame (all of it if n is larger).
Frame truncate(const Frame& frame, size_t n);

class Packet {
 public:
  static Packet ipv4(const std::string& src, const std::string& dst);
  static Packet ipv6(const std::string& src, const std::string& dst);
  static Packet arp();  // a who-has request: the non-IP case

  // Ethernet: VLAN tags, outermost first (tpid 0x8100 or 0x88a8).
  Packet& vlan(uint16_t vid, uint16_t tpid = 0x8100);
  Packet& ethertype(uint16_t type);  // override the innermost EtherType

  // Layer 4. Ports and identifiers in host order.
  Packet& tcp(uint16_t sport, uint16_t dport);
  Packet& tcp_flags(uint8_t flags);  // default 0x02 (SYN); 0x10 = ACK
  Packet& udp(uint16_t sport, uint16_t dport);
  Packet& icmp_echo(uint16_t id, uint16_t seq = 1);  // ICMP or ICMPv6 by family
  Packet& icmp(uint8_t type, uint16_t id);           // any type, id at the echo offset
  Packet& other(uint8_t proto, size_t len = 8);      // protocol number + len filler bytes
  Packet& payload(size_t n);

  // IPv4 knobs.
  Packet& ip_options(size_t bytes);  // multiple of 4, at most 40 (NOPs + EOL)
  Packet& ihl(uint8_t words);        // override the computed IHL
  Packet& tot_len(uint16_t len);     // override the computed total length
  Packet& version(uint8_t v);        // override the IP version nibble (v4 and v6)

  // IPv6 knobs: extension headers in chain order. `len` is the header's
  // size in bytes: a multiple of 8 (AH: of 4, at least 12).
  Packet& ext(uint8_t type, size_t len = 8);
  Packet& payload_len(uint16_t len);  // override the computed payload length

  // A fragment: IPv4 sets frag_off, IPv6 appends a fragment header to the
  // chain. offset in 8-byte units.
  Packet& fragment(uint16_t offset, bool more, uint32_t id = 0x1234);

  Frame build() const;

 private:
  enum class L4 { None, Tcp, Udp, Icmp, Other };
  struct Ext {
    uint8_t type;
    size_t len;
    uint16_t frag_off;  // fragment header only: offset << 3 | M
    uint32_t frag_id;
  };

  int family_ = 4;  // 4, 6, or 0 for ARP
  uint8_t src_[16] = {}, dst_[16] = {};
  std::vector<std::pair<uint16_t, uint16_t>> vlans_;  // (tpid, vid)
  std::optional<uint16_t> ethertype_;

  L4 l4_ = L4::None;
  uint8_t proto_ = 59;  // IPv6 "no next header"; IPv4 uses it as is
  uint16_t sport_ = 0, dport_ = 0;
  uint8_t tcp_flags_ = 0x02;
  uint8_t icmp_type_ = 0;
  size_t other_len_ = 0, payload_ = 0;

  size_t options_ = 0;
  std::optional<uint8_t> ihl_, version_;
  std::optional<uint16_t> tot_len_;
  uint16_t frag_off_ = 0;
  uint16_t ip_id_ = 0;

  std::vector<Ext> exts_;
  std::optional<uint16_t> payload_len_;
};

}  // namespace wanlb_test
