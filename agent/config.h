// Config model and YAML loader for wanlb.
//
// load_config() parses and validates everything that can be checked without
// looking at the system. validate_interfaces() is the one check that needs
// the system (do the named interfaces exist); it is separate so that unit
// tests and `wanlb check` on another machine can skip it.
//
// Every rejection throws ConfigError whose what() reads
//   "<file>:<line>: <key path>: <what is wrong>"
// e.g. "wanlb.yaml:9: wans[1].weight: 0 is out of range 1..1000".
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "wanlb/dp_shared.h"

namespace wanlb {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An IPv4 or IPv6 address, network byte order in bytes[0..3] or [0..15].
struct IpAddr {
  int family = 0;  // AF_INET or AF_INET6; 0 = unset
  std::array<uint8_t, 16> bytes{};
  std::string str() const;
  bool operator==(const IpAddr& o) const { return family == o.family && bytes == o.bytes; }
};

struct Prefix {
  IpAddr addr;  // host bits are zero (normalised on parse)
  uint8_t len = 0;
  std::string str() const;
  bool operator==(const Prefix& o) const { return addr == o.addr && len == o.len; }
};

// Parse "a.b.c.d", "x::y"; return false if not an address.
bool parse_ip(const std::string& text, IpAddr* out);
// Parse "10.0.0.0/8", "2001:db8::/32" or a bare address (host prefix);
// host bits set is an error (returns false, *why set).
bool parse_prefix(const std::string& text, Prefix* out, std::string* why);

// Classifier names as in RouterOS: "src-address" ... "both-addresses-and-ports".
const char* classifier_name(wanlb_classifier c);
bool parse_classifier(const std::string& name, wanlb_classifier* out);

enum class ProbeMethod { Icmp, Arp, None };
const char* probe_method_name(ProbeMethod m);  // "icmp", "arp", "none"

// One probe target: the WAN's gateway (whatever it currently is, including a
// `gateway: auto` one) or a fixed address beyond it.
struct ProbeTarget {
  bool is_gateway = false;
  IpAddr addr;  // when !is_gateway
  bool operator==(const ProbeTarget& o) const { return is_gateway == o.is_gateway && (is_gateway || addr == o.addr); }
};

// `probe:` block of a WAN. Every key has a default.
struct ProbeConfig {
  ProbeMethod method = ProbeMethod::Icmp;
  std::vector<ProbeTarget> targets{ProbeTarget{true, {}}};  // [gateway]
  uint32_t interval_ms = 200;       // 10ms..60s: one round every interval
  uint32_t timeout_ms = 500;        // 10ms..60s: a probe unanswered after this is lost
  uint32_t down = 3;                // 1..100 failed rounds in a row -> down
  uint32_t up = 10;                 // 1..1000 passed rounds in a row -> up
  uint32_t reliability = 1;         // 1..targets.size(): answers needed for a round to pass
  uint32_t max_loss_ppm = 0;        // "max_loss: 5%" = 50000 ppm; 0 = off
  uint32_t max_rtt_ms = 0;          // 0 = off
  uint32_t quality_window_ms = 10000;  // sliding window for max_loss / max_rtt (>= interval)
};

// Source NAT on a WAN, managed by wanlb in its own nftables table.
enum class NatMode { Masquerade, None };
const char* nat_mode_name(NatMode m);  // "masquerade", "none"

struct WanConfig {
  std::string name;       // 1..15 chars, [A-Za-z0-9_.-], unique
  std::string interface;  // Linux interface name
  bool has_gateway = false;
  IpAddr gateway;         // when has_gateway; else route via the device (PPPoE etc.)
  bool gateway_auto = false;  // `gateway: auto`: follow the main table's default route on `interface`
                              // (has_gateway is false then; the agent resolves it at run time)
  // Dual-stack WANs: `gateway6` (an IPv6 address or `auto`) adds an IPv6
  // default route next to the IPv4 one of `gateway`. When `gateway` itself
  // is IPv6 this stays unset.
  bool has_gateway6 = false;
  IpAddr gateway6;
  bool gateway6_auto = false;
  uint32_t tier = 1;      // 1..16: traffic uses the lowest tier that has a live WAN
  NatMode nat = NatMode::Masquerade;   // IPv4 (`nat`)
  NatMode nat6 = NatMode::Masquerade;  // IPv6 (`nat6`; defaults to `nat`)
  ProbeConfig probe;
  uint32_t weight = 1;    // 1..1000
  uint32_t id = 0;        // WAN id in the data path: 1-based position in `wans`
  uint32_t mark = 0;      // resolved: explicit `mark`, or id << ctz(mark_mask)
  uint32_t table = 0;     // resolved: explicit `table`, or first_table + id - 1
  bool mark_explicit = false;   // `mark` was given (a reload that renumbers WANs keeps it)
  bool table_explicit = false;  // `table` was given
  int line = 0;           // line of this WAN's entry, for messages
  int interface_line = 0; // line of its `interface:` key
};

struct PortRange {
  uint16_t lo = 0;  // inclusive
  uint16_t hi = 0;
  bool operator==(const PortRange& o) const { return lo == o.lo && hi == o.hi; }
};

enum class PolicyAction { Wans, Balance, Bypass };

// One entry of `policies`: new connections that match every condition given
// (empty = any) go where `to` says. The first matching policy wins.
struct PolicyConfig {
  std::string name;                // `name`, default "policy<N>" (1-based)
  std::vector<Prefix> source;      // inline prefixes and the contents of `file:` entries
  std::vector<Prefix> destination;
  uint8_t protocol = 0;            // 0 = any; tcp 6, udp 17, icmp 1, icmpv6 58, or a number
  std::vector<PortRange> ports;    // destination ports (needs protocol tcp or udp); <= 8 ranges
  PolicyAction action = PolicyAction::Balance;
  std::vector<std::string> wans;   // `to: isp2` or `to: [isp1, isp2]` (first live wins), <= 8
  std::vector<uint32_t> wan_ids;   // resolved ids of `wans`
  bool order_by_rtt = false;       // `order: lowest-rtt`: the agent keeps `wans` sorted by probe RTT
  int line = 0;
  // Same policy for the data path (the line it came from does not count).
  bool operator==(const PolicyConfig& o) const {
    return name == o.name && source == o.source && destination == o.destination && protocol == o.protocol &&
           ports == o.ports && action == o.action && wans == o.wans && wan_ids == o.wan_ids &&
           order_by_rtt == o.order_by_rtt;
  }
};

// How the data path runs on a LAN interface (`lan` entry `mode:`).
//  Tc:  the tc ingress program classifies and marks; the stack routes (default).
//  Xdp: an XDP program classifies too and forwards packets for WANs without
//       NAT itself; the tc program finishes whatever XDP passes up.
enum class LanMode { Tc, Xdp };
const char* lan_mode_name(LanMode m);  // "tc", "xdp"

// wanlb's policy rules, per address family, at preferences rule_priority +
// these offsets (docs/config.md, `rule_priority`). The whole block must come
// before the main table's rule at 32766.
enum RuleOffset : uint32_t {
  kRuleFwmark = 0,       // fwmark MARK/MASK lookup TABLE, one per WAN
  kRuleSkip = 1,         // not iif lo goto kRuleBlockEnd
  kRuleMainFirst = 2,    // iif lo lookup main suppress_prefixlength 0
  kRuleFromWanAddr = 3,  // from ADDRESS lookup TABLE, one per WAN address
  kRuleToLocal = 4,      // iif lo lookup local_table
  kRuleBlockEnd = 5,     // nop: where the skip lands
};
constexpr uint32_t kMaxRulePriority = 32765 - kRuleBlockEnd;

struct Config {
  std::string source;                // file name as given (for messages)
  std::vector<std::string> lan;      // >= 1 interface (a name or a glob pattern)
  std::vector<int> lan_lines;        // line of each lan entry
  std::vector<LanMode> lan_modes;    // mode of each lan entry (same index as `lan`)
  wanlb_classifier classifier = WANLB_CLS_BOTH_ADDRESSES;
  uint32_t flow_table_size = WANLB_DEFAULT_FLOW_ENTRIES;  // 1024..16777216
  std::vector<Prefix> bypass;
  uint32_t mark_mask = 0x00ff0000;   // contiguous, non-zero
  uint32_t first_table = 100;        // 1..0xfffffff0; tables 253..255 and 0 refused
  uint32_t rule_priority = 1000;     // 1..kMaxRulePriority (see RuleOffset)
  uint32_t route_protocol = 201;     // rtnetlink protocol stamped on our rules/routes, 5..254
  std::string bpffs_dir = "/sys/fs/bpf/wanlb";  // where maps and program are pinned
  std::string hook;                  // optional absolute path run on every WAN state change
  std::string metrics;               // `metrics`: "127.0.0.1:9469" / "[::1]:9469"; "" = off (default)
  std::string control_group;         // `control_group`: a group that may use the control socket too
  std::vector<PolicyConfig> policies;  // <= WANLB_MAX_POLICIES, in order
  bool sticky_pair = false;          // `sticky: pair` (default `none`)
  bool inbound_conntrack = true;     // `inbound: conntrack` (default) / `none`
  uint32_t sticky_timeout_ms = 600000;  // `sticky_timeout`, 1s..24h, default 10m
  uint32_t local_table = 0;          // resolved: `local_table`, default first_table + 64; the router's
                                     // own traffic uses it (a default route over the live WANs)
  std::vector<WanConfig> wans;       // 1..WANLB_MAX_WANS
};

// Mode of LAN interface `ifname`: that of the first `lan` entry naming or
// matching it (Tc if none does).
LanMode lan_mode_of(const Config& cfg, const std::string& ifname);

// WANLB_WAN_F_NO_NAT / WANLB_WAN_F_NO_NAT6 bits of a WAN's wanlb_wan.flags
// (`nat: none` / `nat6: none`): where the XDP fast path may forward itself.
uint32_t wan_nat_flags(const WanConfig& w);

// Parse YAML text. `source` names the file in messages.
Config parse_config(const std::string& yaml_text, const std::string& source);
// Read and parse a file ("cannot read <file>: <strerror>" on failure).
Config load_config(const std::string& path);
// Throws ConfigError "<file>:<line>: lan[0]: interface 'eth9' does not exist"
// (or wans[i].interface) for the first interface `exists` rejects.
void validate_interfaces(const Config& cfg, const std::function<bool(const std::string&)>& exists);

}  // namespace wanlb
