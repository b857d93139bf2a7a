// What the BPF benchmarks (bpf_bench.cpp, scale_tool.cpp) send through
// BPF_PROG_TEST_RUN.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "prog_run.h"

namespace wanlb_bench {

using Frame = std::vector<uint8_t>;

// Ethernet + IPv4/IPv6 + TCP (SYN) + 32 bytes of payload, to 93.184.216.34
// / 2001:db8::1 port 443. `src` is the low bits of the source address
// (10.x.y.z or fd00::/96 + src), so that flows can be made distinct.
inline Frame tcp_frame(bool v6, uint32_t src, uint16_t sport) {
  Frame f = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
  auto put16 = [&](uint16_t v) { f.push_back(v >> 8); f.push_back(v & 0xff); };
  auto put32 = [&](uint32_t v) { put16(v >> 16); put16(v & 0xffff); };
  const uint16_t l4_len = 20 + 32;
  if (!v6) {
    put16(0x0800);
    f.insert(f.end(), {0x45, 0});
    put16(20 + l4_len);
    f.insert(f.end(), {0, 0, 0x40, 0, 64, IPPROTO_TCP, 0, 0});  // id, DF, ttl, proto, checksum (unchecked)
    put32(0x0a000000 | (src & 0xffffff));                        // 10.x.y.z
    put32(0x5db8d822);                                           // 93.184.216.34
  } else {
    put16(0x86dd);
    put32(6u << 28);
    put16(l4_len);
    f.insert(f.end(), {IPPROTO_TCP, 64});
    f.insert(f.end(), {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});  // fd00::/96 + src
    put32(src);
    f.insert(f.end(), {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01});  // 2001:db8::1
  }
  put16(sport);
  put16(443);
  put32(1);
  put32(0);
  f.insert(f.end(), {0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0});
  f.insert(f.end(), 32, 0xab);
  return f;
}

// Mean ns per run as the kernel measured it; the program must return TC_ACT_OK.
inline uint32_t test_run(int prog_fd, const Frame& frame, uint32_t repeat) {
  wanlb::SkbRun r = wanlb::run_skb(prog_fd, frame, 0, repeat);
  if (r.err) throw std::runtime_error(std::string("BPF_PROG_TEST_RUN: ") + std::strerror(-r.err));
  if (r.retval != 0) throw std::runtime_error("program returned " + std::to_string(r.retval) + ", not TC_ACT_OK");
  return r.duration_ns;
}

}  // namespace wanlb_bench
