// Writes the committed seed corpus of fuzz_datapath (tests/fuzz/corpus/datapath/):
// one raw-mode input (header byte 0 = mode 0) per template frame, plus
// edit/truncate/splice-mode inputs that start from a template and reach
// the malformed cases (bad IHL, short tot_len, a 9-header IPv6 chain,
// a third VLAN tag, truncations in every header).
//
//   build/fuzz/make_seeds tests/fuzz/corpus/datapath
#include <cstdio>
#include <string>
#include <vector>

#include "frames.h"

using namespace wanlb_fuzz;

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  std::vector<Frame> t = templates();
  int n = 0;
  auto put = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    std::string path = dir + "/" + name;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) {
      std::perror(path.c_str());
      std::exit(1);
    }
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    n++;
  };
  char name[64];
  for (size_t i = 0; i < t.size(); i++) {
    std::vector<uint8_t> in = {static_cast<uint8_t>((i % 4) << 2), 0, 0};  // raw, vary the initial mark
    in.insert(in.end(), t[i].begin(), t[i].end());
    std::snprintf(name, sizeof name, "raw-%02zu", i);
    put(name, in);
  }
  // Edit mode: (offset, value) pairs on a template.
  struct Edit {
    const char* name;
    uint8_t tmpl;
    std::vector<uint8_t> pairs;
  };
  const std::vector<Edit> edits = {
      {"ihl4", 0, {14, 0x44}},                       // IHL below 5
      {"ihl15", 0, {14, 0x4f}},                      // options run past the frame
      {"totlen-long", 2, {16, 0x05, 17, 0xdc}},      // tot_len 1500 > frame
      {"totlen-short", 2, {16, 0x00, 17, 0x10}},     // tot_len < IHL
      {"ver6-in-v4", 3, {14, 0x65}},
      {"v6-payload-long", 4, {18, 0x7f}},
      {"vlan3", 8, {20, 0x81, 21, 0x00}},            // third tag -> not IP
      {"ethertype-arp", 0, {12, 0x08, 13, 0x06}},
      {"v6-ah-next", 12, {54, 51}},                   // chain with AH
      {"syn-ack", 0, {47, 0x12}},
      {"rst", 1, {47, 0x04}},
      {"icmp-reply", 3, {34, 0}},
      {"icmp6-reply", 6, {54, 129}},
      {"proto-icmp6-in-v4", 3, {23, 58}},
      {"frag-mf-off", 15, {20, 0x3f, 21, 0xff}},
      {"dport-443", 20, {37, 0xbb}},
      {"dport-5353", 21, {36, 0x14, 37, 0xe9}},
      {"src-lab", 0, {28, 10, 29, 9}},
  };
  for (const auto& e : edits) {
    std::vector<uint8_t> in = {0x01, e.tmpl, 0};
    in.insert(in.end(), e.pairs.begin(), e.pairs.end());
    put(std::string("edit-") + e.name, in);
  }
  // Truncate mode: cut each header kind in the middle.
  const std::vector<std::pair<uint8_t, uint8_t>> cuts = {
      {0, 20}, {0, 40}, {4, 40}, {4, 60}, {8, 20}, {12, 60}, {12, 80}, {14, 100}, {17, 60}, {3, 36}, {5, 58}};
  for (const auto& [ti, len] : cuts) {
    std::snprintf(name, sizeof name, "cut-%02u-%u", ti, len);
    put(name, {0x02, ti, len});
  }
  // 9 extension headers: one more than the parser walks.
  {
    std::vector<uint8_t> in = {0x03, 14, 54};  // the Ethernet + IPv6 header of template 14
    // splice: 9 destination-options headers of 8 bytes, then UDP.
    for (int i = 0; i < 9; i++) {
      uint8_t next = i < 8 ? 60 : 17;
      std::vector<uint8_t> h = {next, 0, 1, 4, 0, 0, 0, 0};
      in.insert(in.end(), h.begin(), h.end());
    }
    std::vector<uint8_t> udp = {0, 7, 0, 7, 0, 8, 0, 0};
    in.insert(in.end(), udp.begin(), udp.end());
    // payload_len of the spliced header still says 8*8+8: the parser must
    // stop on the chain length, or on the length check; either is counted.
    put("splice-v6-chain9", in);
  }
  std::fprintf(stderr, "make_seeds: %d inputs in %s\n", n, dir.c_str());
  return 0;
}
