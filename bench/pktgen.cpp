// wanlb-pktgen: a small UDP/IPv4 packet generator for the benchmarks.
//
// Prebuilt Ethernet frames are sent with sendmmsg(2) on an AF_PACKET socket
// (PACKET_QDISC_BYPASS: straight to the driver's xmit, no qdisc), so the
// sender costs little next to the router under test. Frame k of a run goes
// to flow k % flows: every packet belongs to another flow, as in a busy LAN.
//
//   flow i:  source      SRC + (i % src-count)
//            destination DST + (i % dst-count)
//            UDP source port  sport + (i % 65536 - sport wraps within 1024..65535)
//            UDP destination port  dport
//
// Full speed by default; --rate PPS paces the packets evenly (for loss
// counting at a constant rate). At the end one JSON line goes to stdout:
// {"sent":N,"errors":E,"seconds":S,"pps":P,"attempted_pps":A}. `sent` counts
// the frames the device accepted; `errors` counts frames the kernel refused
// (ENOBUFS: the receiver's backlog was full, i.e. the frame was dropped
// before the router); attempted = sent + errors.
//
// It only ever sends on the interface it is given, in the network namespace
// it is run in (the benchmarks run it in a namespace of their own).
//
// Usage: wanlb-pktgen --dev IF --dst-mac MAC --src A --dst A [--src-count N]
//        [--dst-count N] [--flows N] [--sport P] [--dport P] [--size BYTES]
//        [--seconds S] [--rate PPS] [--batch N]
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "wanlb-pktgen: %s\n", msg.c_str());
  std::exit(2);
}

bool parse_mac(const std::string& s, uint8_t out[6]) {
  unsigned v[6];
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) return false;
  for (int i = 0; i < 6; i++) {
    if (v[i] > 255) return false;
    out[i] = static_cast<uint8_t>(v[i]);
  }
  return true;
}

uint32_t parse_ip(const std::string& s) {
  in_addr a{};
  if (inet_pton(AF_INET, s.c_str(), &a) != 1) die("not an IPv4 address: " + s);
  return ntohl(a.s_addr);
}

uint16_t ip_checksum(const uint8_t* hdr, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (hdr[i] << 8) | hdr[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dev, dst_mac_s, src_s, dst_s;
  unsigned src_count = 1, dst_count = 1, flows = 4096, sport = 10000, dport = 9, size = 60, batch = 64;
  double seconds = 5, rate = 0;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--dev") dev = val();
    else if (a == "--dst-mac") dst_mac_s = val();
    else if (a == "--src") src_s = val();
    else if (a == "--dst") dst_s = val();
    else if (a == "--src-count") src_count = std::stoul(val());
    else if (a == "--dst-count") dst_count = std::stoul(val());
    else if (a == "--flows") flows = std::stoul(val());
    else if (a == "--sport") sport = std::stoul(val());
    else if (a == "--dport") dport = std::stoul(val());
    else if (a == "--size") size = std::stoul(val());
    else if (a == "--seconds") seconds = std::stod(val());
    else if (a == "--rate") rate = std::stod(val());
    else if (a == "--batch") batch = std::stoul(val());
    else die("unknown argument " + a + " (see the header of bench/pktgen.cpp)");
  }
  if (dev.empty() || dst_mac_s.empty() || src_s.empty() || dst_s.empty())
    die("--dev, --dst-mac, --src and --dst are required");
  if (flows < 1 || flows > (1u << 20)) die("--flows must be 1..1048576");
  if (src_count < 1 || dst_count < 1) die("--src-count/--dst-count must be >= 1");
  if (size < 60 || size > 1514) die("--size must be 60..1514 (frame without FCS)");
  if (batch < 1 || batch > 1024) die("--batch must be 1..1024");
  if (sport < 1024 || sport > 65535) die("--sport must be 1024..65535");

  uint8_t dst_mac[6], src_mac[6];
  if (!parse_mac(dst_mac_s, dst_mac)) die("bad --dst-mac " + dst_mac_s);
  int fd = socket(AF_PACKET, SOCK_RAW, 0);  // protocol 0: send only, never receives
  if (fd < 0) die(std::string("socket(AF_PACKET): ") + std::strerror(errno));
  unsigned ifindex = if_nametoindex(dev.c_str());
  if (!ifindex) die("no interface " + dev);
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", dev.c_str());
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) die(std::string("SIOCGIFHWADDR: ") + std::strerror(errno));
  std::memcpy(src_mac, ifr.ifr_hwaddr.sa_data, 6);
  int one = 1;
  setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);  // best effort
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_IP);
  sll.sll_ifindex = static_cast<int>(ifindex);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) die(std::string("bind: ") + std::strerror(errno));

  // Prebuilt frames, one per flow.
  const uint32_t src0 = parse_ip(src_s), dst0 = parse_ip(dst_s);
  std::vector<uint8_t> frames(static_cast<size_t>(flows) * size, 0);
  for (unsigned i = 0; i < flows; i++) {
    uint8_t* f = &frames[static_cast<size_t>(i) * size];
    std::memcpy(f, dst_mac, 6);
    std::memcpy(f + 6, src_mac, 6);
    f[12] = 0x08;
    f[13] = 0x00;
    uint8_t* ip = f + 14;
    const unsigned ip_len = size - 14, udp_len = ip_len - 20;
    ip[0] = 0x45;
    ip[2] = ip_len >> 8;
    ip[3] = ip_len & 0xff;
    ip[6] = 0x40;  // DF
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    uint32_t s = htonl(src0 + (i % src_count)), d = htonl(dst0 + (i % dst_count));
    std::memcpy(ip + 12, &s, 4);
    std::memcpy(ip + 16, &d, 4);
    uint16_t c = htons(ip_checksum(ip, 20));
    std::memcpy(ip + 10, &c, 2);
    uint8_t* udp = ip + 20;
    unsigned sp = 1024 + (sport - 1024 + i) % (65536 - 1024);
    udp[0] = sp >> 8;
    udp[1] = sp & 0xff;
    udp[2] = dport >> 8;
    udp[3] = dport & 0xff;
    udp[4] = udp_len >> 8;
    udp[5] = udp_len & 0xff;  // checksum 0: none (allowed for UDP over IPv4)
    for (unsigned k = 8; k < udp_len; k++) udp[k] = static_cast<uint8_t>(i + k);
  }

  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);

  std::vector<mmsghdr> msgs(batch);
  std::vector<iovec> iov(batch);
  uint64_t sent = 0, errors = 0, next_flow = 0;
  const double t0 = now_s(), t_end = t0 + seconds;
  // Pacing: with --rate, send `chunk` frames every chunk/rate seconds.
  unsigned chunk = batch;
  double gap = 0;
  if (rate > 0) {
    chunk = static_cast<unsigned>(rate / 10000);  // about 10k sends per second at most
    if (chunk < 1) chunk = 1;
    if (chunk > batch) chunk = batch;
    gap = chunk / rate;
  }
  double next_t = t0;
  uint64_t loops = 0;
  while (!g_stop) {
    if ((++loops & 63) == 0 || rate > 0) {
      double t = now_s();
      if (t >= t_end) break;
      if (rate > 0) {
        if (t < next_t) {
          double wait = next_t - t;
          timespec ts{static_cast<time_t>(wait), static_cast<long>((wait - static_cast<time_t>(wait)) * 1e9)};
          nanosleep(&ts, nullptr);
        }
        next_t += gap;
        if (next_t < t - 0.1) next_t = t;  // fell far behind (descheduled): do not burst to catch up
      }
    }
    unsigned n = chunk;
    for (unsigned k = 0; k < n; k++) {
      iov[k].iov_base = &frames[static_cast<size_t>((next_flow + k) % flows) * size];
      iov[k].iov_len = size;
      msgs[k].msg_hdr = msghdr{};
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(fd, msgs.data(), n, 0);
    if (r > 0) {
      sent += static_cast<unsigned>(r);
      next_flow += static_cast<unsigned>(r);
      if (static_cast<unsigned>(r) < n) {
        // The next frame was refused (the kernel stops at the first error).
        errors++;
        next_flow++;
      }
    } else if (r < 0) {
      if (errno == ENOBUFS || errno == EAGAIN) {
        errors++;
        next_flow++;
      } else if (errno != EINTR) {
        die(std::string("sendmmsg: ") + std::strerror(errno));
      }
    }
  }
  double el = now_s() - t0;
  std::printf("{\"sent\":%llu,\"errors\":%llu,\"seconds\":%.3f,\"pps\":%.0f,\"attempted_pps\":%.0f}\n",
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(errors), el, sent / el,
              (sent + errors) / el);
  close(fd);
  return 0;
}
