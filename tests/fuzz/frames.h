// Template frames and a user-space reference parser for the data path
// fuzzer (tests/fuzz/fuzz_datapath.cpp) and its seed generator
// (tests/fuzz/make_seeds.cpp).
//
// The reference parser mirrors bpf/parsing.h rule by rule (VLAN depth 2,
// IPv4 IHL/tot_len checks, IPv6 chain of at most 8 extension headers, the
// fragment rule, ports/echo id). The harness compares the kernel's verdict
// with it: this is both an oracle (the flow key the program pins must be
// the one the parser rules give) and coverage guidance (its branches are
// instrumented user-space code, while the BPF program's are not visible
// to libFuzzer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "datapath/packet_builder.h"
#include "wanlb/dp_shared.h"

namespace wanlb_fuzz {

using wanlb_test::Frame;

enum class Parse { Ok, NotIp, Bad };

struct RefPacket {
  wanlb_flow_key key{};
  bool is_fragment = false;
  bool tcp_syn_only = false;
  bool tcp_ack = false;
};

inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// Mirror of wanlb_parse_l4.
inline Parse ref_l4(const uint8_t* d, size_t end, size_t off, RefPacket* pkt) {
  switch (pkt->key.proto) {
    case 6:  // TCP: 20-byte header must be there
      if (off + 20 > end) return Parse::Bad;
      std::memcpy(&pkt->key.sport, d + off, 2);
      std::memcpy(&pkt->key.dport, d + off + 2, 2);
      {
        uint8_t fl = d[off + 13];
        bool syn = fl & 0x02, ack = fl & 0x10;
        pkt->tcp_syn_only = syn && !ack;
        pkt->tcp_ack = ack;
      }
      return Parse::Ok;
    case 17:
      if (off + 8 > end) return Parse::Bad;
      std::memcpy(&pkt->key.sport, d + off, 2);
      std::memcpy(&pkt->key.dport, d + off + 2, 2);
      return Parse::Ok;
    case 1:
    case 58: {
      if (off + 8 > end) return Parse::Bad;
      uint8_t type = d[off];
      bool echo = pkt->key.proto == 1 ? (type == 8 || type == 0) : (type == 128 || type == 129);
      if (echo) std::memcpy(&pkt->key.sport, d + off + 4, 2);
      return Parse::Ok;
    }
    default:
      return Parse::Ok;
  }
}

// Mirror of wanlb_parse_frame for a linear frame of `len` bytes.
inline Parse ref_parse(const uint8_t* d, size_t len, RefPacket* pkt) {
  *pkt = RefPacket{};
  if (len < 14) return Parse::Bad;
  uint16_t proto = rd16(d + 12);
  size_t off = 14;
  for (int i = 0; i < 2; i++) {
    if (proto != 0x8100 && proto != 0x88a8) break;
    if (off + 4 > len) return Parse::Bad;
    proto = rd16(d + off + 2);
    off += 4;
  }
  size_t room = len > off ? len - off : 0;
  if (proto == 0x0800) {
    if (off + 20 > len) return Parse::Bad;
    const uint8_t* ip = d + off;
    if ((ip[0] >> 4) != 4 || (ip[0] & 0x0f) < 5) return Parse::Bad;
    size_t hl = (ip[0] & 0x0f) * 4u;
    if (off + hl > len) return Parse::Bad;
    size_t tot = rd16(ip + 2);
    if (tot < hl || tot > room) return Parse::Bad;
    pkt->key.family = 2;
    pkt->key.proto = ip[9];
    std::memcpy(&pkt->key.saddr[0], ip + 12, 4);
    std::memcpy(&pkt->key.daddr[0], ip + 16, 4);
    if (rd16(ip + 6) & 0x3fff) {
      pkt->is_fragment = true;
      return Parse::Ok;
    }
    return ref_l4(d, len, off + hl, pkt);
  }
  if (proto == 0x86dd) {
    if (off + 40 > len) return Parse::Bad;
    const uint8_t* ip = d + off;
    if ((ip[0] >> 4) != 6) return Parse::Bad;
    if (40 + static_cast<size_t>(rd16(ip + 4)) > room) return Parse::Bad;
    pkt->key.family = 10;
    std::memcpy(pkt->key.saddr, ip + 8, 16);
    std::memcpy(pkt->key.daddr, ip + 24, 16);
    size_t cur = off + 40;
    uint8_t nh = ip[6];
    for (int i = 0; i <= 8; i++) {
      if (nh == 44) {
        if (cur + 8 > len) return Parse::Bad;
        pkt->is_fragment = true;
        pkt->key.proto = d[cur];
        return Parse::Ok;
      }
      bool ext = nh == 0 || nh == 43 || nh == 60 || nh == 51;
      if (!ext) {
        pkt->key.proto = nh;
        return ref_l4(d, len, cur, pkt);
      }
      if (i == 8) break;
      if (cur + 2 > len) return Parse::Bad;
      size_t hlen = nh == 51 ? (d[cur + 1] + 2u) * 4u : (d[cur + 1] + 1u) * 8u;
      nh = d[cur];
      cur += hlen;
    }
    return Parse::Bad;
  }
  return Parse::NotIp;
}

// A small set of valid frames covering every parser path. Destinations are
// chosen against the harness's configuration: 198.51.100.0/24 and
// 2001:db8:1::/48 are balanced, 192.168.0.0/16 and fd00::/8 are bypassed,
// 203.0.113.0/24 TCP 443 is policy "web" (WAN 2), UDP 53 is policy "dns"
// (WANs 1 then 2), 2001:db8:bad::/48 is policy "nope" (bypass).
inline std::vector<Frame> templates() {
  using wanlb_test::Packet;
  std::vector<Frame> t;
  const char* v4s = "10.0.0.2";
  const char* v6s = "2001:db8:77::2";
  t.push_back(Packet::ipv4(v4s, "198.51.100.7").tcp(40000, 80).build());                       // 0 SYN
  t.push_back(Packet::ipv4(v4s, "198.51.100.7").tcp(40000, 80).tcp_flags(0x10).payload(20).build());  // 1 ACK
  t.push_back(Packet::ipv4(v4s, "198.51.100.8").udp(5000, 5001).payload(12).build());         // 2 UDP
  t.push_back(Packet::ipv4(v4s, "198.51.100.9").icmp_echo(77).build());                        // 3 ping
  t.push_back(Packet::ipv6(v6s, "2001:db8:1::9").tcp(40001, 443).build());                     // 4
  t.push_back(Packet::ipv6(v6s, "2001:db8:1::9").udp(40002, 123).payload(8).build());          // 5
  t.push_back(Packet::ipv6(v6s, "2001:db8:1::9").icmp_echo(99).build());                       // 6
  t.push_back(Packet::ipv4(v4s, "198.51.100.7").vlan(10).udp(1, 2).build());                   // 7 VLAN
  t.push_back(Packet::ipv4(v4s, "198.51.100.7").vlan(100, 0x88a8).vlan(10).tcp(3, 4).build()); // 8 QinQ
  t.push_back(Packet::ipv6(v6s, "2001:db8:1::9").vlan(100, 0x88a8).vlan(10).udp(1, 2).build());
  t.push_back(Packet::ipv4(v4s, "198.51.100.7").ip_options(12).tcp(40000, 22).build());        // 10 options
  t.push_back(Packet::ipv4(v4s, "198.51.100.7").ip_options(40).udp(9, 9).build());
  t.push_back(Packet::ipv6(v6s, "2001:db8:1::9").ext(0).ext(43, 24).ext(60).tcp(1, 2).build());  // 12 chain
  t.push_back(Packet::ipv6(v6s, "2001:db8:1::9").ext(0).ext(51, 16).ext(60, 16).udp(1, 2).build());
  {
    Packet p = Packet::ipv6(v6s, "2001:db8:1::9");
    for (int i = 0; i < 8; i++) p.ext(60);
    t.push_back(p.udp(7, 7).build());  // 14: exactly 8 headers
  }
  t.push_back(Packet::ipv4(v4s, "198.51.100.7").fragment(0, true).udp(5, 6).payload(16).build());  // 15 frag
  t.push_back(Packet::ipv4(v4s, "198.51.100.7").fragment(100, false).other(17, 16).build());
  t.push_back(Packet::ipv6(v6s, "2001:db8:1::9").ext(0).fragment(0, true).udp(5, 6).build());
  // ICMP errors quoting another packet: dest unreachable (3) / time exceeded
  // (11) carrying an IPv4 header + 8 bytes; ICMPv6 packet too big (2).
  {
    Frame inner = Packet::ipv4("198.51.100.7", v4s).udp(53, 5000).build();
    Frame outer = Packet::ipv4(v4s, "198.51.100.7").icmp(3, 0).build();
    outer.insert(outer.end(), inner.begin() + 14, inner.begin() + 14 + 28);
    outer[14 + 2] = static_cast<uint8_t>((outer.size() - 14) >> 8);  // fix tot_len
    outer[14 + 3] = static_cast<uint8_t>(outer.size() - 14);
    t.push_back(outer);  // 18
  }
  {
    Frame inner = Packet::ipv6("2001:db8:1::9", v6s).tcp(443, 40001).build();
    Frame outer = Packet::ipv6(v6s, "2001:db8:1::9").icmp(2, 0).build();
    outer.insert(outer.end(), inner.begin() + 14, inner.begin() + 14 + 48);
    size_t pl = outer.size() - 14 - 40;
    outer[14 + 4] = static_cast<uint8_t>(pl >> 8);
    outer[14 + 5] = static_cast<uint8_t>(pl);
    t.push_back(outer);  // 19
  }
  t.push_back(Packet::ipv4(v4s, "203.0.113.5").tcp(40000, 443).build());    // 20 policy web
  t.push_back(Packet::ipv4(v4s, "198.51.100.53").udp(5353, 53).build());    // 21 policy dns
  t.push_back(Packet::ipv6(v6s, "2001:db8:bad::1").udp(1, 2).build());      // 22 policy bypass
  t.push_back(Packet::ipv4(v4s, "192.168.1.1").tcp(40000, 80).build());     // 23 bypass
  t.push_back(Packet::ipv6(v6s, "fd00::1").icmp_echo(5).build());           // 24 bypass v6
  t.push_back(Packet::ipv4(v4s, "198.51.100.7").other(47, 24).build());     // 25 GRE
  t.push_back(Packet::arp().build());                                              // 26 non-IP
  t.push_back(Packet::ipv4(v4s, "198.51.100.7").tcp(1, 2).payload(64).tot_len(60).build());  // 27 padding
  return t;
}

}  // namespace wanlb_fuzz
