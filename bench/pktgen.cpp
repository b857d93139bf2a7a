// wanlb-pktgen: a UDP/IPv4 packet generator for the benchmarks, with two
// engines.
//
//   --engine xdp (the forwarding benchmark's): frames are made in the kernel
//     by bpf/bench_xdpgen.bpf.c, run with BPF_PROG_RUN in live-frames mode
//     (BPF_F_TEST_XDP_LIVE_FRAMES, as xdp-trafficgen from xdp-tools does) and
//     redirected into --dev as XDP frames. No skb and no socket on the
//     sending side. Run on the receiver's CPU, each batch is processed by
//     the receiver in softirq right after it is sent, so the receiver never
//     waits for a wake-up (bench/forwarding_bench.sh explains why that
//     matters on a VM). The receiving end of
//     the veth needs NAPI (GRO on, or an XDP program): frames its ring has
//     no room for are refused and show as --dev's tx_dropped, which the
//     JSON line reports as `errors`.
//   --engine packet (default; paced loss tests): prebuilt frames sent with
//     sendmmsg(2) on an AF_PACKET socket (PACKET_QDISC_BYPASS); `errors`
//     counts the frames the kernel refused (ENOBUFS: the receiver's backlog
//     was full). --rate PPS paces the packets evenly.
//
// Frame k of a run goes to flow k % flows: every packet belongs to another
// flow, as in a busy LAN.
//
//   flow i:  source      SRC + (i % src-count)
//            destination DST + (i % dst-count)
//            UDP source port  sport + i (wraps within 1024..65535; the xdp
//                             engine requires sport + flows <= 65536)
//            UDP destination port  dport
// Frame k belongs to flow i = (k / burst) % flows: --burst N (xdp engine,
// default 1) sends packet trains of N frames per flow, as a busy flow's
// packets arrive back to back; 1 interleaves the flows frame by frame.
//
// At the end one JSON line goes to stdout:
// {"sent":N,"errors":E,"seconds":S,"pps":P,"attempted_pps":A}, attempted =
// sent + errors.
//
// --attach-sink DEV (repeatable, nothing else needed) instead attaches
// bench_xdpgen_sink (drop UDP, pass the rest) to each DEV in native XDP mode
// and exits; the program stays until the device is deleted.
//
// --attach-tc-mark DEV --mark-wans N instead attaches bench_tc_mark (the
// forwarding benchmark's floor: address pair -> fwmark 1..N, nothing else)
// to DEV's tc ingress (clsact) and exits; remove it with
// `tc qdisc del dev DEV clsact`. With --tcx-pin PATH it attaches through a
// tcx link instead (kernel 6.6+, the tc hook without the classifier layer)
// and pins the link at PATH, on a bpffs: removing that file detaches it.
//
// It only ever touches the interfaces it is given, in the network namespace
// it is run in (the benchmarks run it in namespaces of their own).
//
// Usage: wanlb-pktgen --dev IF --dst-mac MAC --src A --dst A [--src-count N]
//        [--dst-count N] [--flows N] [--sport P] [--dport P] [--size BYTES]
//        [--seconds S] [--engine packet|xdp] [--rate PPS] [--batch N] [--burst N]
//        wanlb-pktgen --attach-sink IF [--attach-sink IF ...]
//        wanlb-pktgen --attach-tc-mark IF --mark-wans N [--tcx-pin PATH]
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/if_link.h>
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
#include <fstream>
#include <string>
#include <vector>

#include "bench_xdpgen.skel.h"

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

struct Options {
  std::string dev, dst_mac, src, dst, engine = "packet", tc_mark_dev, tcx_pin;
  std::vector<std::string> sinks;
  unsigned burst = 1, mark_wans = 0, src_count = 1, dst_count = 1, flows = 4096, sport = 10000, dport = 9, size = 60, batch = 64;
  double seconds = 5, rate = 0;
};

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--dev") o.dev = val();
    else if (a == "--dst-mac") o.dst_mac = val();
    else if (a == "--src") o.src = val();
    else if (a == "--dst") o.dst = val();
    else if (a == "--src-count") o.src_count = std::stoul(val());
    else if (a == "--dst-count") o.dst_count = std::stoul(val());
    else if (a == "--flows") o.flows = std::stoul(val());
    else if (a == "--sport") o.sport = std::stoul(val());
    else if (a == "--dport") o.dport = std::stoul(val());
    else if (a == "--size") o.size = std::stoul(val());
    else if (a == "--seconds") o.seconds = std::stod(val());
    else if (a == "--rate") o.rate = std::stod(val());
    else if (a == "--batch") o.batch = std::stoul(val());
    else if (a == "--burst") o.burst = std::stoul(val());
    else if (a == "--engine") o.engine = val();
    else if (a == "--attach-sink") o.sinks.push_back(val());
    else if (a == "--attach-tc-mark") o.tc_mark_dev = val();
    else if (a == "--mark-wans") o.mark_wans = std::stoul(val());
    else if (a == "--tcx-pin") o.tcx_pin = val();
    else die("unknown argument " + a + " (see the header of bench/pktgen.cpp)");
  }
  if (!o.sinks.empty()) return o;
  if (!o.tcx_pin.empty() && o.tc_mark_dev.empty()) die("--tcx-pin goes with --attach-tc-mark");
  if (!o.tc_mark_dev.empty()) {
    if (o.mark_wans < 1 || o.mark_wans > 64) die("--attach-tc-mark needs --mark-wans 1..64");
    return o;
  }
  if (o.dev.empty() || o.dst_mac.empty() || o.src.empty() || o.dst.empty())
    die("--dev, --dst-mac, --src and --dst are required");
  if (o.engine != "packet" && o.engine != "xdp") die("--engine must be packet or xdp");
  if (o.flows < 1 || o.flows > (1u << 20)) die("--flows must be 1..1048576");
  if (o.src_count < 1 || o.dst_count < 1) die("--src-count/--dst-count must be >= 1");
  if (o.size < 60 || o.size > 1514) die("--size must be 60..1514 (frame without FCS)");
  if (o.batch < 1 || o.batch > 1024) die("--batch must be 1..1024");
  if (o.burst < 1 || o.burst > 1024) die("--burst must be 1..1024");
  if (o.burst > 1 && o.engine != "xdp") die("--burst is for --engine xdp");
  if (o.sport < 1024 || o.sport > 65535) die("--sport must be 1024..65535");
  if (o.engine == "xdp" && o.sport + o.flows > 65536) die("--engine xdp: --sport + --flows must be <= 65536");
  if (o.engine == "xdp" && o.rate > 0) die("--engine xdp sends at full speed; --rate is for --engine packet");
  return o;
}

// The frame of flow i (see the header).
void build_frame(const Options& o, const uint8_t src_mac[6], const uint8_t dst_mac[6], unsigned i, uint8_t* f) {
  std::memset(f, 0, o.size);
  std::memcpy(f, dst_mac, 6);
  std::memcpy(f + 6, src_mac, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  uint8_t* ip = f + 14;
  const unsigned ip_len = o.size - 14, udp_len = ip_len - 20;
  ip[0] = 0x45;
  ip[2] = ip_len >> 8;
  ip[3] = ip_len & 0xff;
  ip[6] = 0x40;  // DF
  ip[8] = 64;
  ip[9] = IPPROTO_UDP;
  uint32_t s = htonl(parse_ip(o.src) + (i % o.src_count)), d = htonl(parse_ip(o.dst) + (i % o.dst_count));
  std::memcpy(ip + 12, &s, 4);
  std::memcpy(ip + 16, &d, 4);
  uint16_t c = htons(ip_checksum(ip, 20));
  std::memcpy(ip + 10, &c, 2);
  uint8_t* udp = ip + 20;
  unsigned sp = 1024 + (o.sport - 1024 + i) % (65536 - 1024);
  udp[0] = sp >> 8;
  udp[1] = sp & 0xff;
  udp[2] = o.dport >> 8;
  udp[3] = o.dport & 0xff;
  udp[4] = udp_len >> 8;
  udp[5] = udp_len & 0xff;  // checksum 0: none (allowed for UDP over IPv4)
  for (unsigned k = 8; k < udp_len; k++) udp[k] = static_cast<uint8_t>(k);
}

void report(uint64_t sent, uint64_t errors, double el) {
  std::printf("{\"sent\":%llu,\"errors\":%llu,\"seconds\":%.3f,\"pps\":%.0f,\"attempted_pps\":%.0f}\n",
              static_cast<unsigned long long>(sent), static_cast<unsigned long long>(errors), el, sent / el,
              (sent + errors) / el);
}

// ------------------------------------------------------------ packet engine
void run_packet(const Options& o, const uint8_t dst_mac[6]) {
  int fd = socket(AF_PACKET, SOCK_RAW, 0);  // protocol 0: send only, never receives
  if (fd < 0) die(std::string("socket(AF_PACKET): ") + std::strerror(errno));
  unsigned ifindex = if_nametoindex(o.dev.c_str());
  if (!ifindex) die("no interface " + o.dev);
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", o.dev.c_str());
  if (ioctl(fd, SIOCGIFHWADDR, &ifr) != 0) die(std::string("SIOCGIFHWADDR: ") + std::strerror(errno));
  uint8_t src_mac[6];
  std::memcpy(src_mac, ifr.ifr_hwaddr.sa_data, 6);
  int one = 1;
  setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);  // best effort
  sockaddr_ll sll{};
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_IP);
  sll.sll_ifindex = static_cast<int>(ifindex);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) != 0) die(std::string("bind: ") + std::strerror(errno));

  std::vector<uint8_t> frames(static_cast<size_t>(o.flows) * o.size);  // one per flow
  for (unsigned i = 0; i < o.flows; i++) build_frame(o, src_mac, dst_mac, i, &frames[static_cast<size_t>(i) * o.size]);

  std::vector<mmsghdr> msgs(o.batch);
  std::vector<iovec> iov(o.batch);
  uint64_t sent = 0, errors = 0, next_flow = 0;
  const double t0 = now_s(), t_end = t0 + o.seconds;
  // Pacing: with --rate, send `chunk` frames every chunk/rate seconds.
  unsigned chunk = o.batch;
  double gap = 0;
  if (o.rate > 0) {
    chunk = static_cast<unsigned>(o.rate / 10000);  // about 10k sends per second at most
    if (chunk < 1) chunk = 1;
    if (chunk > o.batch) chunk = o.batch;
    gap = chunk / o.rate;
  }
  double next_t = t0;
  uint64_t loops = 0;
  while (!g_stop) {
    if ((++loops & 63) == 0 || o.rate > 0) {
      double t = now_s();
      if (t >= t_end) break;
      if (o.rate > 0) {
        if (t < next_t) {
          double wait = next_t - t;
          timespec ts{static_cast<time_t>(wait), static_cast<long>((wait - static_cast<time_t>(wait)) * 1e9)};
          nanosleep(&ts, nullptr);
        }
        next_t += gap;
        if (next_t < t - 0.1) next_t = t;  // fell far behind (descheduled): do not burst to catch up
      }
    }
    for (unsigned k = 0; k < chunk; k++) {
      iov[k].iov_base = &frames[static_cast<size_t>((next_flow + k) % o.flows) * o.size];
      iov[k].iov_len = o.size;
      msgs[k].msg_hdr = msghdr{};
      msgs[k].msg_hdr.msg_iov = &iov[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(fd, msgs.data(), chunk, 0);
    if (r > 0) {
      sent += static_cast<unsigned>(r);
      next_flow += static_cast<unsigned>(r);
      if (static_cast<unsigned>(r) < chunk) {
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
  report(sent, errors, now_s() - t0);
  close(fd);
}

// --------------------------------------------------------------- xdp engine
uint64_t read_stat(const std::string& dev, const char* name) {
  std::ifstream f("/sys/class/net/" + dev + "/statistics/" + name);
  uint64_t v = 0;
  if (!(f >> v)) die("cannot read /sys/class/net/" + dev + "/statistics/" + name);
  return v;
}

bool read_mac(const std::string& dev, uint8_t out[6]) {
  std::ifstream f("/sys/class/net/" + dev + "/address");
  std::string s;
  return static_cast<bool>(f >> s) && parse_mac(s, out);
}

void run_xdp(const Options& o, const uint8_t dst_mac[6]) {
  unsigned ifindex = if_nametoindex(o.dev.c_str());
  if (!ifindex) die("no interface " + o.dev);
  uint8_t src_mac[6];
  if (!read_mac(o.dev, src_mac)) die("cannot read the MAC address of " + o.dev);
  bench_xdpgen* skel = bench_xdpgen::open();
  if (!skel) die("cannot open the generator's BPF object");
  skel->rodata->out_ifindex = ifindex;
  skel->rodata->flows = o.flows;
  skel->rodata->burst = o.burst;
  skel->rodata->src_base = parse_ip(o.src);
  skel->rodata->src_count = o.src_count;
  skel->rodata->dst_base = parse_ip(o.dst);
  skel->rodata->dst_count = o.dst_count;
  skel->rodata->sport_base = static_cast<uint16_t>(o.sport);
  std::vector<uint8_t> frame(o.size);
  build_frame(o, src_mac, dst_mac, 0, frame.data());
  static_assert(sizeof(skel->bss->hdr) == 42, "Ethernet + IPv4 + UDP");
  std::memcpy(skel->bss->hdr, frame.data(), sizeof(skel->bss->hdr));
  if (int err = bench_xdpgen::load(skel)) die("loading the generator's BPF program: " + std::string(std::strerror(-err)));

  const uint64_t dropped0 = read_stat(o.dev, "tx_dropped");
  uint64_t attempted = 0;
  uint32_t repeat = 1u << 14;  // grown so that one call lasts about 20 ms
  const double t0 = now_s(), t_end = t0 + o.seconds;
  for (double t = t0; !g_stop && t < t_end;) {
    LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = frame.data(), .data_size_in = o.size,
                .repeat = static_cast<int>(repeat), .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = o.batch);
    if (int err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.bench_xdpgen_tx), &run))
      die("BPF_PROG_RUN (live frames): " + std::string(std::strerror(-err)));
    attempted += repeat;
    double t1 = now_s();
    if (t1 - t < 0.01 && repeat < (1u << 24)) repeat *= 2;
    t = t1;
  }
  const double el = now_s() - t0;
  const uint64_t refused = read_stat(o.dev, "tx_dropped") - dropped0;
  report(attempted - std::min(refused, attempted), refused, el);
  bench_xdpgen::destroy(skel);
}

void attach_sinks(const std::vector<std::string>& devs) {
  bench_xdpgen* skel = bench_xdpgen::open_and_load();
  if (!skel) die("cannot load the sink's BPF program");
  for (const std::string& dev : devs) {
    unsigned ifindex = if_nametoindex(dev.c_str());
    if (!ifindex) die("no interface " + dev);
    if (int err = bpf_xdp_attach(static_cast<int>(ifindex), bpf_program__fd(skel->progs.bench_xdpgen_sink),
                                 XDP_FLAGS_DRV_MODE, nullptr))
      die("attaching the sink's XDP program to " + dev + ": " + std::strerror(-err));
  }
  bench_xdpgen::destroy(skel);  // the attachments keep the program
}

// BPF_TCX_INGRESS from linux/bpf.h of 6.6+; Debian 12's headers predate it.
constexpr int kTcxIngress = 46;

void attach_tc_mark(const std::string& dev, unsigned wans, const std::string& tcx_pin) {
  bench_xdpgen* skel = bench_xdpgen::open();
  if (!skel) die("cannot open the BPF object");
  skel->rodata->mark_wans = wans;
  if (bench_xdpgen::load(skel)) die("cannot load bench_tc_mark");
  unsigned ifindex = if_nametoindex(dev.c_str());
  if (!ifindex) die("no interface " + dev);
  if (!tcx_pin.empty()) {
    // libbpf 1.1 has no tcx API; its generic bpf_link_create passes the
    // attach type and the ifindex through.
    int link = bpf_link_create(bpf_program__fd(skel->progs.bench_tc_mark), static_cast<int>(ifindex),
                               static_cast<bpf_attach_type>(kTcxIngress), nullptr);
    if (link < 0) die("attaching bench_tc_mark to " + dev + " through tcx: " + std::strerror(errno));
    if (bpf_obj_pin(link, tcx_pin.c_str())) die("pinning the tcx link at " + tcx_pin + ": " + std::strerror(errno));
    close(link);
    bench_xdpgen::destroy(skel);  // the pinned link keeps the program
    return;
  }
  LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = static_cast<int>(ifindex), .attach_point = BPF_TC_INGRESS);
  int err = bpf_tc_hook_create(&hook);
  if (err && err != -EEXIST) die("creating clsact on " + dev + ": " + std::strerror(-err));
  LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = bpf_program__fd(skel->progs.bench_tc_mark));
  if ((err = bpf_tc_attach(&hook, &opts))) die("attaching bench_tc_mark to " + dev + ": " + std::strerror(-err));
  bench_xdpgen::destroy(skel);  // the filter keeps the program
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  if (!o.sinks.empty()) {
    attach_sinks(o.sinks);
    return 0;
  }
  if (!o.tc_mark_dev.empty()) {
    attach_tc_mark(o.tc_mark_dev, o.mark_wans, o.tcx_pin);
    return 0;
  }
  uint8_t dst_mac[6];
  if (!parse_mac(o.dst_mac, dst_mac)) die("bad --dst-mac " + o.dst_mac);
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  if (o.engine == "xdp")
    run_xdp(o, dst_mac);
  else
    run_packet(o, dst_mac);
  return 0;
}
