#include "datapath/packet_builder.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <stdexcept>

namespace wanlb_test {

namespace {

void put8(Frame& f, uint8_t v) { f.push_back(v); }
void put16(Frame& f, uint16_t v) {  // network order
  f.push_back(static_cast<uint8_t>(v >> 8));
  f.push_back(static_cast<uint8_t>(v));
}
void put32(Frame& f, uint32_t v) {
  put16(f, static_cast<uint16_t>(v >> 16));
  put16(f, static_cast<uint16_t>(v));
}
void put_bytes(Frame& f, const uint8_t* p, size_t n) { f.insert(f.end(), p, p + n); }
void put_fill(Frame& f, size_t n, uint8_t v = 0) { f.insert(f.end(), n, v); }
void set16(Frame& f, size_t at, uint16_t v) {
  f[at] = static_cast<uint8_t>(v >> 8);
  f[at + 1] = static_cast<uint8_t>(v);
}

void parse_addr(int family, const std::string& text, uint8_t* out) {
  if (inet_pton(family == 4 ? AF_INET : AF_INET6, text.c_str(), out) != 1)
    throw std::invalid_argument("packet_builder: bad address " + text);
}

uint16_t ip_checksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

Frame truncate(const Frame& frame, size_t n) { return Frame(frame.begin(), frame.begin() + std::min(n, frame.size())); }

Packet Packet::ipv4(const std::string& src, const std::string& dst) {
  Packet p;
  p.family_ = 4;
  parse_addr(4, src, p.src_);
  parse_addr(4, dst, p.dst_);
  return p;
}

Packet Packet::ipv6(const std::string& src, const std::string& dst) {
  Packet p;
  p.family_ = 6;
  parse_addr(6, src, p.src_);
  parse_addr(6, dst, p.dst_);
  return p;
}

Packet Packet::arp() {
  Packet p;
  p.family_ = 0;
  return p;
}

Packet& Packet::vlan(uint16_t vid, uint16_t tpid) { vlans_.emplace_back(tpid, vid); return *this; }
Packet& Packet::ethertype(uint16_t type) { ethertype_ = type; return *this; }

Packet& Packet::tcp(uint16_t sport, uint16_t dport) {
  l4_ = L4::Tcp; proto_ = IPPROTO_TCP; sport_ = sport; dport_ = dport;
  return *this;
}
Packet& Packet::tcp_flags(uint8_t flags) {
  tcp_flags_ = flags;
  return *this;
}
Packet& Packet::udp(uint16_t sport, uint16_t dport) {
  l4_ = L4::Udp; proto_ = IPPROTO_UDP; sport_ = sport; dport_ = dport;
  return *this;
}
Packet& Packet::icmp(uint8_t type, uint16_t id) {
  l4_ = L4::Icmp; proto_ = family_ == 6 ? uint8_t{IPPROTO_ICMPV6} : uint8_t{IPPROTO_ICMP}; icmp_type_ = type; sport_ = id;
  return *this;
}
Packet& Packet::icmp_echo(uint16_t id, uint16_t seq) {
  icmp(family_ == 6 ? 128 : 8, id);
  dport_ = seq;  // stored in dport_, written at the sequence offset
  return *this;
}
Packet& Packet::other(uint8_t proto, size_t len) {
  l4_ = L4::Other; proto_ = proto; other_len_ = len;
  return *this;
}
Packet& Packet::payload(size_t n) { payload_ = n; return *this; }

Packet& Packet::ip_options(size_t bytes) {
  if (bytes % 4 || bytes > 40) throw std::invalid_argument("packet_builder: IPv4 options must be 4*k <= 40 bytes");
  options_ = bytes;
  return *this;
}
Packet& Packet::ihl(uint8_t words) { ihl_ = words; return *this; }
Packet& Packet::tot_len(uint16_t len) { tot_len_ = len; return *this; }
Packet& Packet::version(uint8_t v) { version_ = v; return *this; }

Packet& Packet::ext(uint8_t type, size_t len) {
  bool ok = type == IPPROTO_AH ? (len >= 12 && len % 4 == 0 && len <= 1028) : (len >= 8 && len % 8 == 0 && len <= 2048);
  if (!ok) throw std::invalid_argument("packet_builder: bad extension header length");
  exts_.push_back({type, len, 0, 0});
  return *this;
}
Packet& Packet::payload_len(uint16_t len) { payload_len_ = len; return *this; }

Packet& Packet::fragment(uint16_t offset, bool more, uint32_t id) {
  uint16_t off = static_cast<uint16_t>(offset << 3 | (more ? 1 : 0));
  if (family_ == 6) {
    exts_.push_back({IPPROTO_FRAGMENT, 8, off, id});
  } else {
    frag_off_ = static_cast<uint16_t>((more ? 0x2000 : 0) | (offset & 0x1fff));
    ip_id_ = static_cast<uint16_t>(id);
  }
  return *this;
}

Frame Packet::build() const {
  Frame f;
  // Ethernet: locally administered MACs.
  const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x01}, smac[6] = {0x02, 0, 0, 0, 0, 0x02};
  put_bytes(f, dmac, 6);
  put_bytes(f, smac, 6);
  for (const auto& [tpid, vid] : vlans_) {
    put16(f, tpid);
    put16(f, vid & 0x0fff);  // PCP 0, DEI 0
  }
  uint16_t type = family_ == 4 ? 0x0800 : family_ == 6 ? 0x86dd : 0x0806;
  put16(f, ethertype_.value_or(type));

  if (family_ == 0) {  // ARP request, Ethernet/IPv4
    put16(f, 1); put16(f, 0x0800); put8(f, 6); put8(f, 4); put16(f, 1);
    put_bytes(f, smac, 6); put32(f, 0x0a000001);
    put_fill(f, 6);        put32(f, 0x0a000002);
    return f;
  }

  // Layer 4 first, so the IP header can state its length.
  Frame l4;
  switch (l4_) {
    case L4::Tcp:
      put16(l4, sport_); put16(l4, dport_); put32(l4, 1); put32(l4, 0);
      put8(l4, 5 << 4); put8(l4, tcp_flags_); put16(l4, 65535); put16(l4, 0); put16(l4, 0);
      break;
    case L4::Udp:
      put16(l4, sport_); put16(l4, dport_); put16(l4, static_cast<uint16_t>(8 + payload_)); put16(l4, 0);
      break;
    case L4::Icmp:
      put8(l4, icmp_type_); put8(l4, 0); put16(l4, 0); put16(l4, sport_); put16(l4, dport_);
      break;
    case L4::Other:
      put_fill(l4, other_len_, 0xab);
      break;
    case L4::None:
      break;
  }
  for (size_t i = 0; i < payload_; i++) l4.push_back(static_cast<uint8_t>(i));

  if (family_ == 4) {
    size_t hdr = 20 + options_;
    size_t at = f.size();
    put8(f, static_cast<uint8_t>(version_.value_or(4) << 4 | (ihl_.value_or(static_cast<uint8_t>(hdr / 4)) & 0x0f)));
    put8(f, 0);  // DSCP/ECN
    put16(f, tot_len_.value_or(static_cast<uint16_t>(hdr + l4.size())));
    put16(f, ip_id_);
    put16(f, frag_off_);
    put8(f, 64);
    put8(f, proto_);
    put16(f, 0);  // checksum, filled below
    put_bytes(f, src_, 4);
    put_bytes(f, dst_, 4);
    if (options_) {  // NOPs then End of Options List
      put_fill(f, options_ - 1, 1);
      put8(f, 0);
    }
    set16(f, at + 10, ip_checksum(&f[at], hdr));
  } else {
    Frame ext;
    for (size_t i = 0; i < exts_.size(); i++) {
      const Ext& e = exts_[i];
      uint8_t next = i + 1 < exts_.size() ? exts_[i + 1].type : proto_;
      put8(ext, next);
      if (e.type == IPPROTO_FRAGMENT) {
        put8(ext, 0);
        put16(ext, e.frag_off);
        put32(ext, e.frag_id);
      } else {
        put8(ext, static_cast<uint8_t>(e.type == IPPROTO_AH ? e.len / 4 - 2 : e.len / 8 - 1));
        put_fill(ext, e.len - 2);  // Pad1/PadN-free zeros: fine for a parser
      }
    }
    put32(f, static_cast<uint32_t>(version_.value_or(6)) << 28);
    put16(f, payload_len_.value_or(static_cast<uint16_t>(ext.size() + l4.size())));
    put8(f, exts_.empty() ? proto_ : exts_[0].type);
    put8(f, 64);
    put_bytes(f, src_, 16);
    put_bytes(f, dst_, 16);
    f.insert(f.end(), ext.begin(), ext.end());
  }
  f.insert(f.end(), l4.begin(), l4.end());
  return f;
}

}  // namespace wanlb_test
