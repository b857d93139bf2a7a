// Config model and YAML loader: see config.h for the contract and
// docs/config.md for the user-facing reference of every key.
//
// The parser is strict on purpose: wanlb steers real traffic, so a typo
// (an unknown key, a weight of "1O", a prefix with host bits) must stop the
// agent with a message naming file, line and key, never be guessed at.
#include "config.h"

#include <sstream>
#include <yaml-cpp/eventhandler.h>

#include "lan_match.h"  // is_interface_pattern
#include "metrics.h"  // parse_listen_address
#include <arpa/inet.h>
#include <fnmatch.h>
#include <sys/socket.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <unordered_set>
#include <utility>

namespace wanlb {

// ------------------------------------------------------------- addresses

std::string IpAddr::str() const {
  char buf[INET6_ADDRSTRLEN];
  if (family != AF_INET && family != AF_INET6) return "unset";
  if (!inet_ntop(family, bytes.data(), buf, sizeof buf)) return "unset";
  return buf;
}

std::string Prefix::str() const { return addr.str() + "/" + std::to_string(len); }

bool parse_ip(const std::string& text, IpAddr* out) {
  // c_str() would silently cut at an embedded NUL and accept the prefix.
  if (text.find('\0') != std::string::npos) return false;
  IpAddr a;
  if (inet_pton(AF_INET, text.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
  } else if (inet_pton(AF_INET6, text.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
  } else {
    return false;
  }
  if (out) *out = a;
  return true;
}

namespace {

bool set_why(std::string* why, const std::string& msg) {
  if (why) *why = msg;
  return false;
}

unsigned max_prefix_len(int family) { return family == AF_INET ? 32 : 128; }

// Digits only: strtoul would take "+8", " 8" or "8abc".
bool parse_prefix_len(const std::string& s, unsigned max, unsigned* out) {
  if (s.empty() || s.size() > 3) return false;
  unsigned v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + unsigned(c - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

IpAddr network_of(const IpAddr& a, unsigned len) {
  IpAddr n = a;
  for (unsigned i = 0; i < n.bytes.size(); i++) {
    unsigned keep = len > i * 8 ? len - i * 8 : 0;  // bits of this byte inside the prefix
    if (keep < 8) n.bytes[i] &= uint8_t(0xff00u >> keep);
  }
  return n;
}

}  // namespace

bool parse_prefix(const std::string& text, Prefix* out, std::string* why) {
  size_t slash = text.find('/');
  std::string addr_text = text.substr(0, slash);
  IpAddr a;
  if (!parse_ip(addr_text, &a)) return set_why(why, "'" + addr_text + "' is not an IPv4 or IPv6 address");
  unsigned max = max_prefix_len(a.family);
  unsigned len = max;  // a bare address is a host prefix
  if (slash != std::string::npos) {
    std::string len_text = text.substr(slash + 1);
    if (!parse_prefix_len(len_text, max, &len))
      return set_why(why, "prefix length '" + len_text + "' is not in 0.." + std::to_string(max) +
                              (a.family == AF_INET ? " (IPv4)" : " (IPv6)"));
  }
  Prefix p;
  p.addr = network_of(a, len);
  p.len = uint8_t(len);
  // Refuse rather than mask: "10.0.0.1/8" is more likely a typo for /32
  // than a request for all of 10/8, and we must not guess which.
  if (!(p.addr == a)) return set_why(why, "host bits set (did you mean " + p.str() + "?)");
  if (out) *out = p;
  return true;
}

// ------------------------------------------------------------ classifier

namespace {

// Indexed by enum wanlb_classifier (values are map ABI, see dp_shared.h).
const char* const kClassifierNames[WANLB_CLS_COUNT] = {
    "src-address",          "dst-address",          "both-addresses",
    "src-port",             "dst-port",             "both-ports",
    "src-address-and-port", "dst-address-and-port", "both-addresses-and-ports",
    "round-robin",
};

}  // namespace

const char* classifier_name(wanlb_classifier c) {
  const int i = int(c);
  if (i < 0 || i >= WANLB_CLS_COUNT) return "unknown";
  return kClassifierNames[i];
}

bool parse_classifier(const std::string& name, wanlb_classifier* out) {
  for (int i = 0; i < WANLB_CLS_COUNT; i++) {
    if (name != kClassifierNames[i]) continue;
    if (out) *out = wanlb_classifier(i);
    return true;
  }
  return false;
}

// --------------------------------------------------------------- probing

const char* probe_method_name(ProbeMethod m) {
  switch (m) {
    case ProbeMethod::Icmp: return "icmp";
    case ProbeMethod::Arp: return "arp";
    case ProbeMethod::None: return "none";
  }
  return "unknown";
}

const char* nat_mode_name(NatMode m) {
  switch (m) {
    case NatMode::Masquerade: return "masquerade";
    case NatMode::None: return "none";
  }
  return "unknown";
}

// ---------------------------------------------------------------- parser

namespace {

using YAML::Node;

const std::vector<std::string> kTopKeys = {"lan",         "classifier",    "flow_table_size", "bypass",
                                           "mark_mask",   "first_table",   "rule_priority",   "route_protocol",
                                           "bpffs_dir",   "hook",          "sticky",          "sticky_timeout",
                                           "local_table", "metrics",       "control_group",   "policies",
                                           "inbound",     "wans"};
const std::vector<std::string> kLanKeys = {"interface", "mode"};
const std::vector<std::string> kWanKeys = {"name",   "interface", "gateway", "gateway6", "tier", "weight",
                                           "nat",    "nat6",      "mark",    "table",    "probe"};
const std::vector<std::string> kProbeKeys = {"method", "targets",     "interval", "timeout",  "down",
                                             "up",     "reliability", "max_loss", "max_rtt", "quality_window"};
const std::vector<std::string> kProbeMethods = {"icmp", "arp", "none"};
const std::vector<std::string> kNatModes = {"masquerade", "none"};
const std::vector<std::string> kStickyModes = {"none", "pair"};
const std::vector<std::string> kInboundModes = {"conntrack", "none"};
const std::vector<std::string> kPolicyKeys = {"name", "source", "destination", "protocol", "ports", "to", "order"};
const std::vector<std::string> kPolicyOrders = {"as-listed", "lowest-rtt"};
const std::vector<std::string> kProtocols = {"tcp", "udp", "icmp", "icmpv6"};

constexpr uint64_t kMaxFlowEntries = 16777216;
constexpr uint64_t kMaxFirstTable = 0xfffffff0;
constexpr uint64_t kMaxTable = 0xffffffff;
constexpr size_t kMaxNameLen = WANLB_WAN_NAME_LEN - 1;  // wanlb_wan.name keeps a NUL
constexpr size_t kMaxIfnameLen = 15;                     // IFNAMSIZ - 1
constexpr uint32_t kMaxTier = 16;
constexpr uint64_t kMinProbeMs = 10;          // interval, timeout
constexpr uint64_t kMaxProbeMs = 60 * 1000;   // interval, timeout, max_rtt
constexpr uint64_t kMaxWindowMs = 10 * 60 * 1000;
constexpr uint64_t kPpmPerPercent = 10000;
constexpr uint64_t kMinStickyMs = 1000;
constexpr uint64_t kMaxStickyMs = 24 * 60 * 60 * 1000;
constexpr uint32_t kLocalTableOffset = 64;  // default local_table = first_table + 64 (past every WAN's default)
constexpr size_t kMaxPolicyNameLen = 31;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;

// One `key: value` of a mapping, or one item of a list, with what
// messages need.
struct Field {
  std::string path;  // "wans[1].weight"
  Node value;
  int line = 1;      // 1-based
};

using Fields = std::map<std::string, Field>;

int line_of(const Node& n, int fallback) {
  const YAML::Mark m = n.Mark();
  return m.is_null() ? fallback : m.line + 1;
}

// Where to point at a value: a scalar's own line; for lists, mappings and
// null the key's line, because yaml-cpp marks those at their first item or
// at whatever follows an empty value.
int value_line(const Node& value, int key_line) {
  return value.IsScalar() ? line_of(value, key_line) : key_line;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%08llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string describe(const Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "nothing";
  }
}

// Decimal or 0x hex and nothing else: a typo such as "1O" or "-1" must not
// become a number, and octal/sign/exponent forms are not worth the surprise.
bool parse_uint(const std::string& s, uint64_t* out) {
  bool is_hex = s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
  const std::string digits = is_hex ? s.substr(2) : s;
  if (digits.empty() || digits.size() > 16) return false;
  uint64_t v = 0;
  for (char c : digits) {
    if (is_hex ? !std::isxdigit(static_cast<unsigned char>(c)) : !std::isdigit(static_cast<unsigned char>(c)))
      return false;
    uint64_t d = std::isdigit(static_cast<unsigned char>(c)) ? uint64_t(c - '0')
                                                             : uint64_t(std::tolower(c) - 'a' + 10);
    uint64_t next = v * (is_hex ? 16 : 10) + d;
    if (next / (is_hex ? 16 : 10) != v) return false;  // overflow
    v = next;
  }
  *out = v;
  return true;
}

// "<digits>[.<digits>]<suffix>" split into an exact value in units of
// 1/scale of the number: parse_decimal("1.5", 1000) = 1500. Returns false
// for anything else (signs, exponents, ".5", "1.") and sets *inexact when
// the fraction is finer than 1/scale. Integer part capped at 12 digits so
// nothing overflows.
bool parse_decimal(const std::string& s, uint64_t scale, uint64_t* out, bool* inexact) {
  const size_t dot = s.find('.');
  const std::string ip = s.substr(0, dot);
  const std::string fp = dot == std::string::npos ? "" : s.substr(dot + 1);
  auto digits = [](const std::string& d, size_t max) {
    if (d.empty() || d.size() > max) return false;
    for (char c : d)
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    return true;
  };
  if (!digits(ip, 12)) return false;
  if (dot != std::string::npos && !digits(fp, 9)) return false;
  uint64_t whole = std::stoull(ip);
  uint64_t frac = fp.empty() ? 0 : std::stoull(fp);
  uint64_t denom = 1;
  for (size_t i = 0; i < fp.size(); i++) denom *= 10;
  // scale <= 3600000 (an hour in ms), whole < 1e12 and frac < 1e9: no
  // overflow anywhere below.
  *inexact = (frac * scale) % denom != 0;
  *out = whole * scale + frac * scale / denom;
  return true;
}

// 1500 -> "1500ms", 60000 -> "60s", 120000 -> "2m", 86400000 -> "24h":
// how messages show durations (60s rather than 1m, as the documented ranges
// say).
std::string fmt_ms(uint64_t ms) {
  if (ms > 3600000 && ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms > 60000 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms >= 1000 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// Same rules as the kernel's dev_valid_name(); ':' included because
// "eth0:1" is an address label, not an interface.
bool valid_ifname(const std::string& s) {
  if (s.empty() || s.size() > kMaxIfnameLen || s == "." || s == "..") return false;
  for (char c : s)
    if (c == '/' || c == ':' || c == '\0' || std::isspace(static_cast<unsigned char>(c))) return false;
  return true;
}

// Names end up in logs, metrics labels and the wanlb_wan map: keep them tame.
bool valid_wan_name(const std::string& s) {
  if (s.empty() || s.size() > kMaxNameLen) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

// A portable group name as useradd/groupadd accept it by default.
bool valid_group_name(const std::string& s) {
  if (s.empty() || s.size() > 32) return false;
  auto lower = [](char c) { return c >= 'a' && c <= 'z'; };
  if (!lower(s[0]) && s[0] != '_') return false;
  for (size_t i = 1; i < s.size(); i++) {
    const char c = s[i];
    if (!lower(c) && !(c >= '0' && c <= '9') && c != '_' && c != '-') return false;
  }
  return true;
}

// Linux reserves these: 0 unspec, 253 default, 254 main, 255 local.
const char* reserved_table(uint64_t t) {
  switch (t) {
    case 0: return "unspec";
    case 253: return "default";
    case 254: return "main";
    case 255: return "local";
    default: return nullptr;
  }
}

unsigned ctz(uint32_t v) { return unsigned(__builtin_ctz(v)); }  // v != 0

// How many WAN ids fit into the mask: values 1..(mask >> ctz).
uint64_t mask_room(uint32_t mask) { return mask >> ctz(mask); }

bool contiguous(uint32_t mask) {
  uint64_t m = mask_room(mask);
  return (m & (m + 1)) == 0;
}

// What we remember about each WAN's explicit settings until resolution.
struct WanSource {
  int name_line = 0;
  int mark_line = 0;   // 0: no explicit mark
  int table_line = 0;  // 0: no explicit table
};

// Whole file into *text; false with *err = strerror(errno) on failure.
bool read_whole_file(const std::string& path, std::string* text, std::string* err) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "re"), &std::fclose);
  if (!f) {
    *err = std::strerror(errno);
    return false;
  }
  text->clear();
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) text->append(buf, n);
  // fopen() succeeds on a directory; the read is what fails (EISDIR).
  if (std::ferror(f.get())) {
    *err = std::strerror(errno);
    return false;
  }
  return true;
}

// Identity of a prefix for hash sets: family, length, address bytes.
std::string prefix_key(const Prefix& p) {
  std::string k(18, '\0');
  k[0] = char(p.addr.family);
  k[1] = char(p.len);
  std::memcpy(&k[2], p.addr.bytes.data(), 16);
  return k;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

// Where `file:PATH` entries are looked up: the config file's directory
// ("" = the current directory), with a trailing '/'.
std::string dir_of(const std::string& source) {
  const size_t slash = source.rfind('/');
  return slash == std::string::npos ? std::string() : source.substr(0, slash + 1);
}

// Policy names share the WAN name alphabet but may be longer: they are
// only logged and shown, never stored in a fixed-size map field.
bool valid_policy_name(const std::string& s) {
  if (s.empty() || s.size() > kMaxPolicyNameLen) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

// Keys and values from the file end up in error messages: escape control
// bytes (a NUL would cut the message short, an escape sequence or newline
// would let a file forge terminal output).
std::string printable(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c >= 0x20 && c != 0x7f) {
      out += static_cast<char>(c);
      continue;
    }
    char buf[8];
    std::snprintf(buf, sizeof(buf), "\\x%02x", c);
    out += buf;
  }
  return out;
}

// Counts YAML documents without building them, at most `limit`. yaml-cpp
// 0.7's LoadAll loops forever on some malformed input (e.g. a lone ","),
// so documents are counted with a bounded walk and the file is then read
// with YAML::Load.
class DocCounter : public YAML::EventHandler {
 public:
  int docs = 0;
  int second_line = 0;  // line of the second document's first node
  void OnDocumentStart(const YAML::Mark& m) override {
    if (++docs == 2) fallback_line_ = m.line + 1;
  }
  void OnDocumentEnd() override {
    if (docs == 2 && second_line == 0) second_line = fallback_line_;
  }
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { node(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t, const std::string&) override { node(m); }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    node(m);
  }
  void OnMapEnd() override {}

 private:
  void node(const YAML::Mark& m) {
    if (docs == 2 && second_line == 0) second_line = m.line + 1;
  }
  int fallback_line_ = 1;
};

class Parser {
 public:
  explicit Parser(const std::string& source) : src_(source), dir_(dir_of(source)) {}
  Config parse(const Node& root);

 private:
  [[noreturn]] void fail(int line, const std::string& path, const std::string& problem) const {
    throw ConfigError(src_ + ":" + std::to_string(line) + ": " + printable(path) + ": " + printable(problem));
  }

  Fields fields(const Field& map, const std::vector<std::string>& allowed) const;
  void require(const Fields& f, const std::string& key, const Field& map) const;
  std::string scalar(const Field& f, const char* what) const;
  uint64_t integer(const Field& f, uint64_t lo, uint64_t hi) const;
  uint64_t duration_ms(const Field& f, uint64_t lo, uint64_t hi, bool hours = false) const;
  uint32_t percent_ppm(const Field& f) const;
  std::vector<Field> list(const Field& f) const;

  void parse_top(const Fields& f, Config* cfg);
  void parse_lan(const Field& f, Config* cfg) const;
  wanlb_classifier parse_classifier_field(const Field& f) const;
  void parse_bypass(const Field& f, Config* cfg) const;
  uint32_t parse_mask(const Field& f);
  void parse_wans(const Field& f, Config* cfg);
  WanConfig parse_wan(const Field& item, WanSource* ws) const;
  void parse_gateway(const Field& f, WanConfig* w) const;
  void parse_gateway6(const Field& f, WanConfig* w) const;
  NatMode parse_nat(const Field& f) const;
  void parse_sticky(const Fields& f, Config* cfg) const;
  void parse_inbound(const Fields& f, Config* cfg) const;
  void parse_probe(const Fields& wan_fields, const Field& item, WanConfig* w) const;
  std::vector<ProbeTarget> parse_targets(const Field& f, const WanConfig& w) const;

  void check_names(const Config& cfg) const;
  void check_interfaces(const Config& cfg) const;
  void check_mask_room(const Config& cfg) const;
  void resolve_marks(Config* cfg) const;
  void check_explicit_mark(const Config& cfg, size_t i) const;
  void resolve_tables(Config* cfg) const;
  void check_default_table(const Config& cfg, size_t i, uint64_t table) const;
  void resolve_local_table(Config* cfg) const;

  void parse_policies(const Field& f, Config* cfg) const;
  PolicyConfig parse_policy(const Field& item, size_t index, const Config& cfg, int* name_line) const;
  void parse_prefixes(const Field& f, const char* noun, std::vector<Prefix>* out) const;
  void read_prefix_file(const Field& item, const std::string& path, std::vector<Prefix>* out,
                        std::unordered_set<std::string>* seen) const;
  uint8_t parse_protocol(const Field& f) const;
  std::vector<PortRange> parse_ports(const Field& f) const;
  void parse_to(const Field& f, const Config& cfg, PolicyConfig* p) const;
  void check_policy_room(const Field& f, const Config& cfg) const;

  std::string origin(bool is_explicit) const { return is_explicit ? "explicit" : "default"; }

  std::string src_;
  std::string dir_;    // directory of src_ for relative `file:` paths ("" = current)
  int mask_line_ = 1;  // line of mark_mask, or 1 when defaulted
  int first_table_line_ = 0;  // 0: first_table defaulted
  int local_table_line_ = 0;  // 0: local_table defaulted
  std::vector<WanSource> wan_src_;
};

Fields Parser::fields(const Field& map, const std::vector<std::string>& allowed) const {
  const std::string label = map.path.empty() ? "top level" : map.path;
  if (!map.value.IsMap()) fail(map.line, label, "expected a mapping, got " + describe(map.value));
  Fields out;
  for (auto it = map.value.begin(); it != map.value.end(); ++it) {
    int key_line = line_of(it->first, map.line);
    if (!it->first.IsScalar()) fail(key_line, label, "keys must be plain names, got " + describe(it->first));
    const std::string key = it->first.Scalar();
    const std::string path = map.path.empty() ? key : map.path + "." + key;
    bool known = false;
    for (const auto& a : allowed) known = known || a == key;
    if (!known) fail(key_line, path, "unknown key '" + key + "' (allowed: " + join(allowed) + ")");
    auto dup = out.find(key);
    // yaml-cpp keeps both copies of a repeated key; which one wins would be
    // an accident, so refuse.
    if (dup != out.end())
      fail(key_line, path, "duplicate key '" + key + "' (first on line " + std::to_string(dup->second.line) + ")");
    out[key] = Field{path, it->second, value_line(it->second, key_line)};
  }
  return out;
}

void Parser::require(const Fields& f, const std::string& key, const Field& map) const {
  if (f.count(key)) return;
  fail(map.line, map.path.empty() ? "top level" : map.path, "missing required key '" + key + "'");
}

std::string Parser::scalar(const Field& f, const char* what) const {
  if (!f.value.IsScalar()) fail(f.line, f.path, std::string("expected ") + what + ", got " + describe(f.value));
  return f.value.Scalar();
}

uint64_t Parser::integer(const Field& f, uint64_t lo, uint64_t hi) const {
  const std::string text = scalar(f, "an integer");
  uint64_t v = 0;
  if (!parse_uint(text, &v)) fail(f.line, f.path, "expected an integer (decimal or 0x hex), got '" + text + "'");
  if (v < lo || v > hi)
    fail(f.line, f.path, text + " is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
  return v;
}

// "200ms", "1s", "1.5s", "2m" (and "1h" where `hours`): an exact number of
// milliseconds in lo..hi. Probe timings have no use for hours, so there
// `1h` stays an unknown unit.
uint64_t Parser::duration_ms(const Field& f, uint64_t lo, uint64_t hi, bool hours) const {
  const std::string text = scalar(f, "a duration");
  size_t unit_at = 0;
  while (unit_at < text.size() && (std::isdigit(static_cast<unsigned char>(text[unit_at])) || text[unit_at] == '.'))
    unit_at++;
  const std::string number = text.substr(0, unit_at);
  const std::string unit = text.substr(unit_at);
  uint64_t scale = 0;
  if (unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "m") scale = 60000;
  else if (unit == "h" && hours) scale = 3600000;
  const std::string units = hours ? "ms, s, m, h" : "ms, s, m";
  bool unit_is_word = !unit.empty();
  for (char c : unit) unit_is_word = unit_is_word && std::isalpha(static_cast<unsigned char>(c));
  uint64_t ms = 0;
  bool inexact = false;
  if (!parse_decimal(number, scale ? scale : 1, &ms, &inexact) || (!scale && !unit.empty() && !unit_is_word))
    fail(f.line, f.path, "expected a duration such as 200ms, 1s, 1.5s or 2m, got '" + text + "'");
  if (unit.empty()) fail(f.line, f.path, "'" + text + "' needs a unit (" + units + "), e.g. " + number + (hours ? "s" : "ms"));
  if (!scale) fail(f.line, f.path, "'" + text + "': unknown unit '" + unit + "' (allowed: " + units + ")");
  if (inexact) fail(f.line, f.path, "'" + text + "' is not a whole number of milliseconds");
  if (ms < lo || ms > hi) fail(f.line, f.path, text + " is out of range " + fmt_ms(lo) + ".." + fmt_ms(hi));
  return ms;
}

// "5%", "2.5%", "0%" (off) .. "100%", as parts per million.
uint32_t Parser::percent_ppm(const Field& f) const {
  const std::string text = scalar(f, "a percentage");
  const bool has_sign = !text.empty() && text.back() == '%';
  const std::string number = has_sign ? text.substr(0, text.size() - 1) : text;
  uint64_t ppm = 0;
  bool inexact = false;
  if (!parse_decimal(number, kPpmPerPercent, &ppm, &inexact))
    fail(f.line, f.path, "expected a percentage such as 5% or 2.5%, got '" + text + "'");
  if (!has_sign) fail(f.line, f.path, "'" + text + "' needs a % sign, e.g. " + text + "%");
  if (inexact) fail(f.line, f.path, "'" + text + "' is finer than 0.0001%");
  if (ppm > 100 * kPpmPerPercent) fail(f.line, f.path, text + " is out of range 0%..100%");
  return uint32_t(ppm);
}

std::vector<Field> Parser::list(const Field& f) const {
  if (!f.value.IsSequence()) fail(f.line, f.path, "expected a list, got " + describe(f.value));
  std::vector<Field> items;
  for (size_t i = 0; i < f.value.size(); i++) {
    Node item = f.value[i];
    items.push_back(Field{f.path + "[" + std::to_string(i) + "]", item, line_of(item, f.line)});
  }
  return items;
}

Config Parser::parse(const Node& root) {
  const Field top{"", root, line_of(root, 1)};
  const Fields f = fields(top, kTopKeys);
  require(f, "lan", top);
  require(f, "wans", top);
  Config cfg;
  cfg.source = src_;
  parse_top(f, &cfg);
  check_names(cfg);
  check_interfaces(cfg);
  check_mask_room(cfg);
  resolve_marks(&cfg);
  resolve_tables(&cfg);
  resolve_local_table(&cfg);
  // Last: policies name WANs, which must be known (and unique) by now.
  if (f.count("policies")) parse_policies(f.at("policies"), &cfg);
  return cfg;
}

// Order matters: wans are parsed last because their checks need mark_mask.
void Parser::parse_top(const Fields& f, Config* cfg) {
  auto has = [&](const char* k) { return f.count(k) != 0; };
  parse_lan(f.at("lan"), cfg);
  if (has("classifier")) cfg->classifier = parse_classifier_field(f.at("classifier"));
  if (has("flow_table_size")) cfg->flow_table_size = uint32_t(integer(f.at("flow_table_size"), 1024, kMaxFlowEntries));
  if (has("bypass")) parse_bypass(f.at("bypass"), cfg);
  if (has("mark_mask")) cfg->mark_mask = parse_mask(f.at("mark_mask"));
  if (has("first_table")) {
    cfg->first_table = uint32_t(integer(f.at("first_table"), 1, kMaxFirstTable));
    first_table_line_ = f.at("first_table").line;
  }
  if (has("local_table")) {
    cfg->local_table = uint32_t(integer(f.at("local_table"), 0, kMaxTable));
    local_table_line_ = f.at("local_table").line;
  }
  if (has("rule_priority")) cfg->rule_priority = uint32_t(integer(f.at("rule_priority"), 1, kMaxRulePriority));
  if (has("route_protocol")) cfg->route_protocol = uint32_t(integer(f.at("route_protocol"), 5, 254));
  if (has("bpffs_dir")) {
    cfg->bpffs_dir = scalar(f.at("bpffs_dir"), "a path");
    if (cfg->bpffs_dir.empty() || cfg->bpffs_dir[0] != '/')
      fail(f.at("bpffs_dir").line, "bpffs_dir", "'" + cfg->bpffs_dir + "' is not an absolute path");
  }
  if (has("hook")) {
    // Run without a shell and from whatever directory the agent has: only
    // an absolute path means one thing. Existence is checked when it runs
    // (a missing hook is logged), so a config can be checked elsewhere.
    cfg->hook = scalar(f.at("hook"), "an absolute path");
    if (cfg->hook.empty() || cfg->hook[0] != '/')
      fail(f.at("hook").line, "hook", "'" + cfg->hook + "' is not an absolute path");
  }
  if (has("metrics")) {
    // Only an address literal: a name would resolve at a time and to an
    // address nobody checked. Bound at start, so a clash shows up there.
    const Field& m = f.at("metrics");
    if (m.value.IsSequence())  // YAML reads an unquoted [::1]:9469 as a list
      fail(m.line, m.path, "expected host:port, got a list (quote an IPv6 form: \"[::1]:9469\")");
    cfg->metrics = scalar(m, "host:port");
    std::string host, why;
    int port = 0;
    if (!parse_listen_address(cfg->metrics, &host, &port, &why)) fail(m.line, m.path, why);
  }
  if (has("control_group")) {
    // Whether the group exists is checked when the agent starts.
    const Field& g = f.at("control_group");
    cfg->control_group = scalar(g, "a group name");
    if (!valid_group_name(cfg->control_group))
      fail(g.line, g.path, "'" + cfg->control_group + "' is not a valid group name ([a-z_][a-z0-9_-]{0,31})");
  }
  parse_sticky(f, cfg);
  parse_inbound(f, cfg);
  parse_wans(f.at("wans"), cfg);
}

// Each entry: an interface name or pattern (tc mode), or a mapping
// `{interface: NAME, mode: tc|xdp}`.
void Parser::parse_lan(const Field& f, Config* cfg) const {
  const std::vector<Field> items = list(f);
  if (items.empty()) fail(f.line, f.path, "must list at least one interface");
  for (const Field& item : items) {
    std::string name;
    Field name_field = item;
    LanMode mode = LanMode::Tc;
    if (item.value.IsMap()) {
      const Fields lf = fields(item, kLanKeys);
      require(lf, "interface", item);
      name_field = lf.at("interface");
      name = scalar(name_field, "an interface name");
      if (lf.count("mode")) {
        const Field& m = lf.at("mode");
        const std::string text = scalar(m, "a mode");
        if (text == "tc") mode = LanMode::Tc;
        else if (text == "xdp") mode = LanMode::Xdp;
        else fail(m.line, m.path, "unknown mode '" + text + "' (allowed: tc, xdp)");
      }
    } else {
      name = scalar(item, "an interface name");  // or a mapping {interface: NAME, mode: tc|xdp}
    }
    if (!valid_ifname(name))
      fail(name_field.line, name_field.path,
           "'" + name + "' is not a valid interface name (1..15 chars, no '/', ':' or spaces)");
    for (size_t j = 0; j < cfg->lan.size(); j++)
      if (cfg->lan[j] == name)
        fail(name_field.line, name_field.path, "duplicate interface '" + name + "' (also lan[" + std::to_string(j) + "])");
    cfg->lan.push_back(name);
    cfg->lan_lines.push_back(name_field.line);
    cfg->lan_modes.push_back(mode);
  }
}

wanlb_classifier Parser::parse_classifier_field(const Field& f) const {
  const std::string name = scalar(f, "a classifier name");
  wanlb_classifier c;
  if (!parse_classifier(name, &c)) {
    const std::vector<std::string> allowed(kClassifierNames, kClassifierNames + WANLB_CLS_COUNT);
    fail(f.line, f.path, "unknown classifier '" + name + "' (allowed: " + join(allowed) + ")");
  }
  return c;
}

void Parser::parse_bypass(const Field& f, Config* cfg) const {
  // `bypass:` with every entry commented out is a null: treat as empty.
  if (f.value.IsNull()) return;
  const std::vector<Field> items = list(f);
  for (size_t i = 0; i < items.size(); i++) {
    const std::string text = scalar(items[i], "a prefix");
    Prefix p;
    std::string why;
    if (!parse_prefix(text, &p, &why)) fail(items[i].line, items[i].path, "'" + text + "': " + why);
    for (size_t j = 0; j < cfg->bypass.size(); j++)
      if (cfg->bypass[j] == p) fail(items[i].line, items[i].path, "duplicate prefix " + p.str() + " (also bypass[" + std::to_string(j) + "])");
    cfg->bypass.push_back(p);
  }
}

uint32_t Parser::parse_mask(const Field& f) {
  const uint32_t mask = uint32_t(integer(f, 0, 0xffffffff));
  if (mask == 0) fail(f.line, f.path, "must be non-zero (wanlb needs at least one bit of skb->mark)");
  // Marks are id << ctz(mask): a hole in the mask would split ids across
  // bits that belong to someone else.
  if (!contiguous(mask)) fail(f.line, f.path, hex(mask) + " is not a contiguous run of bits");
  mask_line_ = f.line;
  return mask;
}

void Parser::parse_wans(const Field& f, Config* cfg) {
  const std::vector<Field> items = list(f);
  if (items.empty()) fail(f.line, f.path, "must list at least one WAN");
  if (items.size() > WANLB_MAX_WANS)
    fail(f.line, f.path, std::to_string(items.size()) + " WANs, at most " + std::to_string(WANLB_MAX_WANS) + " are supported");
  for (size_t i = 0; i < items.size(); i++) {
    WanSource ws;
    WanConfig w = parse_wan(items[i], &ws);
    w.id = uint32_t(i + 1);
    cfg->wans.push_back(w);
    wan_src_.push_back(ws);
  }
}

// Reads one WAN; `mark` and `table` stay 0 unless explicit (0 is invalid
// for both, so it doubles as "not given" until resolve_*()).
WanConfig Parser::parse_wan(const Field& item, WanSource* ws) const {
  const Fields f = fields(item, kWanKeys);
  require(f, "name", item);
  require(f, "interface", item);
  WanConfig w;
  w.line = item.line;
  w.name = scalar(f.at("name"), "a name");
  ws->name_line = f.at("name").line;
  if (!valid_wan_name(w.name))
    fail(ws->name_line, f.at("name").path, "'" + w.name + "' is not a valid name (1..15 chars of A-Z a-z 0-9 _ . -)");
  w.interface = scalar(f.at("interface"), "an interface name");
  w.interface_line = f.at("interface").line;
  if (!valid_ifname(w.interface))
    fail(w.interface_line, f.at("interface").path,
         "'" + w.interface + "' is not a valid interface name (1..15 chars, no '/', ':' or spaces)");
  if (f.count("gateway")) parse_gateway(f.at("gateway"), &w);
  if (f.count("gateway6")) parse_gateway6(f.at("gateway6"), &w);
  if (f.count("nat")) w.nat = parse_nat(f.at("nat"));
  w.nat6 = f.count("nat6") ? parse_nat(f.at("nat6")) : w.nat;
  if (f.count("tier")) w.tier = uint32_t(integer(f.at("tier"), 1, kMaxTier));
  if (f.count("weight")) w.weight = uint32_t(integer(f.at("weight"), 1, 1000));
  if (f.count("mark")) {
    w.mark = uint32_t(integer(f.at("mark"), 0, 0xffffffff));
    w.mark_explicit = true;
    ws->mark_line = f.at("mark").line;
  }
  if (f.count("table")) {
    w.table = uint32_t(integer(f.at("table"), 0, kMaxTable));
    w.table_explicit = true;
    ws->table_line = f.at("table").line;
  }
  parse_probe(f, item, &w);  // last: its checks look at the gateway
  return w;
}

void Parser::parse_gateway(const Field& f, WanConfig* w) const {
  const std::string text = scalar(f, "an address or 'auto'");
  if (text == "auto") {
    w->gateway_auto = true;  // resolved at run time from the main table
    return;
  }
  IpAddr a;
  if (!parse_ip(text, &a)) fail(f.line, f.path, "'" + text + "' is not an IPv4 or IPv6 address (or 'auto')");
  // All-zero means "point-to-point" in the wanlb_wan map; say so instead
  // of letting 0.0.0.0 quietly mean that.
  if (a.bytes == std::array<uint8_t, 16>{})
    fail(f.line, f.path, "'" + text + "' is the unspecified address; omit gateway for a point-to-point link");
  w->gateway = a;
  w->has_gateway = true;
}

// Runs after parse_gateway(): whether `gateway` is IPv6 decides.
void Parser::parse_gateway6(const Field& f, WanConfig* w) const {
  const std::string text = scalar(f, "an IPv6 address or 'auto'");
  if (w->has_gateway && w->gateway.family == AF_INET6)
    fail(f.line, f.path,
         "gateway is already IPv6 (" + w->gateway.str() +
             "); gateway6 is for a second, IPv6 gateway next to an IPv4 one");
  if (text == "auto") {
    w->gateway6_auto = true;  // the main table's IPv6 default route on `interface`
    return;
  }
  IpAddr a;
  if (!parse_ip(text, &a)) fail(f.line, f.path, "'" + text + "' is not an IPv6 address (or 'auto')");
  if (a.family != AF_INET6)
    fail(f.line, f.path, "'" + text + "' is an IPv4 address; gateway6 takes an IPv6 address (IPv4 goes in gateway)");
  if (a.bytes == std::array<uint8_t, 16>{})
    fail(f.line, f.path, "'" + text + "' is the unspecified address; omit gateway6 instead");
  w->gateway6 = a;
  w->has_gateway6 = true;
}

NatMode Parser::parse_nat(const Field& f) const {
  const std::string text = scalar(f, "a NAT mode");
  if (text == "masquerade") return NatMode::Masquerade;
  if (text == "none") return NatMode::None;
  fail(f.line, f.path, "unknown NAT mode '" + text + "' (allowed: " + join(kNatModes) + ")");
}

// `inbound: conntrack` (default) tags connections that start on a WAN in
// conntrack so their replies leave by that WAN; `none` leaves conntrack out
// of wanlb entirely (with no NAT either, the kernel never loads it).
void Parser::parse_inbound(const Fields& f, Config* cfg) const {
  if (!f.count("inbound")) return;
  const Field& m = f.at("inbound");
  const std::string text = scalar(m, "an inbound mode");
  if (text == "none") cfg->inbound_conntrack = false;
  else if (text != "conntrack") fail(m.line, m.path, "unknown inbound mode '" + text + "' (allowed: " + join(kInboundModes) + ")");
}

void Parser::parse_sticky(const Fields& f, Config* cfg) const {
  if (f.count("sticky")) {
    const Field& s = f.at("sticky");
    const std::string text = scalar(s, "a sticky mode");
    if (text == "pair") cfg->sticky_pair = true;
    else if (text != "none") fail(s.line, s.path, "unknown sticky mode '" + text + "' (allowed: " + join(kStickyModes) + ")");
  }
  if (f.count("sticky_timeout")) {
    // Accepted (and ignored) with `sticky: none`, like probe keys under
    // method none: switching stickiness off should not need two edits.
    const Field& t = f.at("sticky_timeout");
    const uint64_t ms = duration_ms(t, kMinStickyMs, kMaxStickyMs, true);
    // The data path keeps seconds; never round silently.
    if (ms % 1000) fail(t.line, t.path, "'" + t.value.Scalar() + "' is not a whole number of seconds");
    cfg->sticky_timeout_ms = uint32_t(ms);
  }
}

std::vector<ProbeTarget> Parser::parse_targets(const Field& f, const WanConfig& w) const {
  const std::vector<Field> items = list(f);
  if (items.empty()) fail(f.line, f.path, "must list at least one target ('gateway' or an address)");
  std::vector<ProbeTarget> out;
  for (size_t i = 0; i < items.size(); i++) {
    const Field& item = items[i];
    const std::string text = scalar(item, "'gateway' or an address");
    ProbeTarget t;
    if (text == "gateway") {
      t.is_gateway = true;
    } else {
      if (!parse_ip(text, &t.addr))
        fail(item.line, item.path, "'" + text + "' is neither 'gateway' nor an IPv4 or IPv6 address");
      if (t.addr.bytes == std::array<uint8_t, 16>{})
        fail(item.line, item.path, "'" + text + "' is the unspecified address");
    }
    // `gateway` probes every gateway the WAN has: `gateway` and `gateway6`.
    auto is_gateway_addr = [&w](const IpAddr& a) {
      return (w.has_gateway && a == w.gateway) || (w.has_gateway6 && a == w.gateway6);
    };
    for (size_t j = 0; j < out.size(); j++) {
      // The gateway written out as an address next to `gateway` would be
      // probed twice per round and count twice towards reliability.
      const IpAddr& addr = t.is_gateway ? out[j].addr : t.addr;
      const bool same_as_gateway = t.is_gateway != out[j].is_gateway && is_gateway_addr(addr);
      if (out[j] == t || same_as_gateway)
        fail(item.line, item.path, "duplicate target '" + text + "' (also " + f.path + "[" + std::to_string(j) + "]" +
                                       (same_as_gateway ? ", the gateway " + addr.str() : std::string()) + ")");
    }
    out.push_back(t);
  }
  return out;
}

// The `probe:` block, then the checks that need the WAN's gateway. Runs
// after the gateway is parsed.
void Parser::parse_probe(const Fields& wan_fields, const Field& item, WanConfig* w) const {
  const std::string wan = item.path;  // "wans[1]"
  ProbeConfig& p = w->probe;
  auto pf = wan_fields.find("probe");
  Fields f;
  int probe_line = item.line;
  if (pf != wan_fields.end()) {
    probe_line = pf->second.line;
    // `probe:` with every key commented out is a null: all defaults.
    if (!pf->second.value.IsNull()) f = fields(pf->second, kProbeKeys);
  }
  auto has = [&](const char* k) { return f.count(k) != 0; };

  if (has("method")) {
    const Field& m = f.at("method");
    const std::string name = scalar(m, "a probe method");
    if (name == "icmp") p.method = ProbeMethod::Icmp;
    else if (name == "arp") p.method = ProbeMethod::Arp;
    else if (name == "none") p.method = ProbeMethod::None;
    else fail(m.line, m.path, "unknown method '" + name + "' (allowed: " + join(kProbeMethods) + ")");
  }
  if (has("targets")) p.targets = parse_targets(f.at("targets"), *w);
  if (has("interval")) p.interval_ms = uint32_t(duration_ms(f.at("interval"), kMinProbeMs, kMaxProbeMs));
  if (has("timeout")) p.timeout_ms = uint32_t(duration_ms(f.at("timeout"), kMinProbeMs, kMaxProbeMs));
  if (has("down")) p.down = uint32_t(integer(f.at("down"), 1, 100));
  if (has("up")) p.up = uint32_t(integer(f.at("up"), 1, 1000));
  if (has("max_loss")) p.max_loss_ppm = percent_ppm(f.at("max_loss"));
  if (has("max_rtt")) p.max_rtt_ms = uint32_t(duration_ms(f.at("max_rtt"), 0, kMaxProbeMs));
  if (has("quality_window")) p.quality_window_ms = uint32_t(duration_ms(f.at("quality_window"), kMinProbeMs, kMaxWindowMs));

  // Method against gateway. `none` probes nothing: targets are ignored.
  if (p.method == ProbeMethod::Arp) {
    const Field& m = f.at("method");
    if (!w->gateway_auto && !(w->has_gateway && w->gateway.family == AF_INET))
      fail(m.line, m.path,
           "arp needs an IPv4 gateway or 'gateway: auto', but " + wan +
               (w->has_gateway                          ? " has the IPv6 gateway " + w->gateway.str()
                : w->has_gateway6 || w->gateway6_auto ? " has only an IPv6 gateway (gateway6)"
                                                        : " has no gateway (point-to-point)") +
               "; use method icmp");
    if (has("targets") && !(p.targets.size() == 1 && p.targets[0].is_gateway))
      fail(f.at("targets").line, f.at("targets").path,
           "arp probes only the gateway: targets must be [gateway] (or left out)");
  }
  const bool p2p = !w->has_gateway && !w->gateway_auto && !w->has_gateway6 && !w->gateway6_auto;
  if (p.method == ProbeMethod::Icmp && p2p) {
    for (size_t i = 0; i < p.targets.size(); i++) {
      if (!p.targets[i].is_gateway) continue;
      const std::string fix = "; list the addresses to probe or use method none";
      if (!has("targets"))
        fail(probe_line, wan + ".probe.targets",
             "the default target 'gateway' needs a gateway, but " + wan + " has none (point-to-point)" + fix);
      const Field& t = f.at("targets");
      const std::vector<Field> items = list(t);
      fail(items[i].line, items[i].path, "'gateway' but " + wan + " has no gateway (point-to-point)" + fix);
    }
  }

  if (has("reliability")) {
    // Answers needed per round: more than there are targets could never pass.
    const Field& r = f.at("reliability");
    const uint64_t n = p.targets.size();
    const std::string text = scalar(r, "an integer");
    uint64_t v = 0;
    if (!parse_uint(text, &v)) fail(r.line, r.path, "expected an integer (decimal or 0x hex), got '" + text + "'");
    if (v < 1 || v > n)
      fail(r.line, r.path,
           text + " is out of range 1.." + std::to_string(n) + " (answers needed per round from " +
               std::to_string(n) + (n == 1 ? " target)" : " targets)"));
    p.reliability = uint32_t(v);
  }
  if (p.quality_window_ms < p.interval_ms) {
    if (has("quality_window"))
      fail(f.at("quality_window").line, f.at("quality_window").path,
           fmt_ms(p.quality_window_ms) + " is shorter than interval (" + fmt_ms(p.interval_ms) + ")");
    fail(f.at("interval").line, f.at("interval").path,
         fmt_ms(p.interval_ms) + " is longer than the default quality_window (" + fmt_ms(p.quality_window_ms) +
             "); raise quality_window too");
  }
}

void Parser::check_names(const Config& cfg) const {
  for (size_t j = 0; j < cfg.wans.size(); j++)
    for (size_t i = 0; i < j; i++)
      if (cfg.wans[i].name == cfg.wans[j].name)
        fail(wan_src_[j].name_line, "wans[" + std::to_string(j) + "].name",
             "duplicate name '" + cfg.wans[j].name + "' (also wans[" + std::to_string(i) + "])");
}

// One interface is either LAN or WAN, and belongs to one WAN only: the
// tc program on the LAN side and the per-WAN routes cannot share a device.
void Parser::check_interfaces(const Config& cfg) const {
  for (size_t j = 0; j < cfg.wans.size(); j++) {
    const WanConfig& w = cfg.wans[j];
    const std::string path = "wans[" + std::to_string(j) + "].interface";
    for (size_t l = 0; l < cfg.lan.size(); l++)
      if (cfg.lan[l] == w.interface)
        fail(w.interface_line, path, "interface '" + w.interface + "' is also lan[" + std::to_string(l) +
                                         "]; an interface is either LAN or WAN");
    for (size_t i = 0; i < j; i++)
      if (cfg.wans[i].interface == w.interface)
        fail(w.interface_line, path, "interface '" + w.interface + "' is already used by wans[" +
                                         std::to_string(i) + "] ('" + cfg.wans[i].name + "')");
  }
}

void Parser::check_mask_room(const Config& cfg) const {
  if (mask_room(cfg.mark_mask) >= cfg.wans.size()) return;
  fail(mask_line_, "mark_mask",
       hex(cfg.mark_mask) + " has room for " + std::to_string(mask_room(cfg.mark_mask)) + " WAN ids but " +
           std::to_string(cfg.wans.size()) + " WANs are configured");
}

void Parser::check_explicit_mark(const Config& cfg, size_t i) const {
  const uint32_t mark = cfg.wans[i].mark;
  const std::string path = "wans[" + std::to_string(i) + "].mark";
  if (mark == 0) fail(wan_src_[i].mark_line, path, "0 is not a mark (it means unmarked); omit mark for the default");
  if (mark & ~cfg.mark_mask)
    fail(wan_src_[i].mark_line, path, hex(mark) + " has bits outside mark_mask " + hex(cfg.mark_mask));
}

void Parser::resolve_marks(Config* cfg) const {
  for (size_t i = 0; i < cfg->wans.size(); i++) {
    if (wan_src_[i].mark_line) check_explicit_mark(*cfg, i);
    else cfg->wans[i].mark = cfg->wans[i].id << ctz(cfg->mark_mask);
  }
  for (size_t j = 0; j < cfg->wans.size(); j++)
    for (size_t i = 0; i < j; i++) {
      const WanConfig& a = cfg->wans[i];
      const WanConfig& b = cfg->wans[j];
      if (a.mark != b.mark) continue;
      const bool bx = wan_src_[j].mark_line != 0;
      fail(bx ? wan_src_[j].mark_line : b.line, "wans[" + std::to_string(j) + "].mark",
           "mark clash: '" + b.name + "' (" + origin(bx) + ") and '" + a.name + "' (wans[" + std::to_string(i) +
               "], " + origin(wan_src_[i].mark_line != 0) + ") both get mark " + hex(b.mark));
    }
}

void Parser::check_default_table(const Config& cfg, size_t i, uint64_t table) const {
  const std::string path = "wans[" + std::to_string(i) + "].table";
  const std::string what = "default table " + std::to_string(table) + " (first_table " +
                           std::to_string(cfg.first_table) + " + " + std::to_string(i) + ")";
  if (table > kMaxTable) fail(cfg.wans[i].line, path, what + " is above " + std::to_string(kMaxTable));
  if (const char* r = reserved_table(table))
    fail(cfg.wans[i].line, path, what + " is reserved ('" + r + "'); change first_table or set table explicitly");
}

void Parser::resolve_tables(Config* cfg) const {
  for (size_t i = 0; i < cfg->wans.size(); i++) {
    WanConfig& w = cfg->wans[i];
    if (wan_src_[i].table_line) {
      if (const char* r = reserved_table(w.table))
        fail(wan_src_[i].table_line, "wans[" + std::to_string(i) + "].table",
             std::to_string(w.table) + " is reserved ('" + r + "'); 0, 253, 254 and 255 cannot be used");
      continue;
    }
    const uint64_t table = uint64_t(cfg->first_table) + w.id - 1;
    check_default_table(*cfg, i, table);
    w.table = uint32_t(table);
  }
  for (size_t j = 0; j < cfg->wans.size(); j++)
    for (size_t i = 0; i < j; i++) {
      const WanConfig& a = cfg->wans[i];
      const WanConfig& b = cfg->wans[j];
      if (a.table != b.table) continue;
      const bool bx = wan_src_[j].table_line != 0;
      fail(bx ? wan_src_[j].table_line : b.line, "wans[" + std::to_string(j) + "].table",
           "table clash: '" + b.name + "' (" + origin(bx) + ") and '" + a.name + "' (wans[" + std::to_string(i) +
               "], " + origin(wan_src_[i].table_line != 0) + ") both get table " + std::to_string(b.table));
    }
}


// The router's own connections (no source address chosen yet) route by
// this table: a weighted multipath default over the live WANs. It must be
// a table nothing else (no WAN) uses.
void Parser::resolve_local_table(Config* cfg) const {
  const bool x = local_table_line_ != 0;
  if (x) {
    if (const char* r = reserved_table(cfg->local_table))
      fail(local_table_line_, "local_table",
           std::to_string(cfg->local_table) + " is reserved ('" + r + "'); 0, 253, 254 and 255 cannot be used");
  } else {
    // Only an explicit first_table can push the default somewhere bad.
    const uint64_t table = uint64_t(cfg->first_table) + kLocalTableOffset;
    const int line = first_table_line_ ? first_table_line_ : 1;
    const std::string what = "default local_table " + std::to_string(table) + " (first_table " +
                             std::to_string(cfg->first_table) + " + " + std::to_string(kLocalTableOffset) + ")";
    if (table > kMaxTable) fail(line, "local_table", what + " is above " + std::to_string(kMaxTable) + "; set local_table explicitly");
    if (const char* r = reserved_table(table))
      fail(line, "local_table", what + " is reserved ('" + r + "'); change first_table or set local_table explicitly");
    cfg->local_table = uint32_t(table);
  }
  for (size_t i = 0; i < cfg->wans.size(); i++) {
    const WanConfig& w = cfg->wans[i];
    if (w.table != cfg->local_table) continue;
    const bool wx = wan_src_[i].table_line != 0;
    if (x)
      fail(local_table_line_, "local_table",
           "table clash: local_table and '" + w.name + "' (wans[" + std::to_string(i) + "], " + origin(wx) +
               ") both get table " + std::to_string(w.table));
    // A default WAN table is first_table + 0..63: only an explicit one can
    // land on first_table + 64.
    fail(wx ? wan_src_[i].table_line : w.line, "wans[" + std::to_string(i) + "].table",
         "table clash: '" + w.name + "' (" + origin(wx) + ") and local_table (default, first_table + " +
             std::to_string(kLocalTableOffset) + ") both get table " + std::to_string(w.table) +
             "; choose another table or set local_table");
  }
}

void Parser::parse_policies(const Field& f, Config* cfg) const {
  // `policies:` with every entry commented out is a null: no policies.
  if (f.value.IsNull()) return;
  const std::vector<Field> items = list(f);
  if (items.size() > WANLB_MAX_POLICIES)
    fail(f.line, f.path,
         std::to_string(items.size()) + " policies, at most " + std::to_string(WANLB_MAX_POLICIES) + " are supported");
  for (size_t i = 0; i < items.size(); i++) {
    int name_line = 0;
    PolicyConfig p = parse_policy(items[i], i, *cfg, &name_line);
    for (size_t j = 0; j < cfg->policies.size(); j++) {
      if (cfg->policies[j].name != p.name) continue;
      const std::string here = "policies[" + std::to_string(i) + "]";
      const std::string there = "policies[" + std::to_string(j) + "]";
      if (name_line) fail(name_line, here + ".name", "duplicate name '" + p.name + "' (also " + there + ")");
      fail(p.line, here, "its default name '" + p.name + "' is already the name of " + there + "; name one of them");
    }
    // After a policy without conditions nothing is ever evaluated.
    if (i > 0) {
      const PolicyConfig& prev = cfg->policies[i - 1];
      if (prev.source.empty() && prev.destination.empty() && prev.protocol == 0 && prev.ports.empty())
        fail(p.line, "policies[" + std::to_string(i) + "]",
             "unreachable: policies[" + std::to_string(i - 1) +
                 "] matches every connection (it has no source, destination, protocol or ports)");
    }
    cfg->policies.push_back(std::move(p));
  }
  check_policy_room(f, *cfg);
}

// The data path keeps one LPM trie per family and direction holding every
// distinct prefix of all policies: more than fit would fail at load time,
// far from the config.
void Parser::check_policy_room(const Field& f, const Config& cfg) const {
  for (int dir = 0; dir < 2; dir++) {
    size_t total = 0;
    for (const PolicyConfig& p : cfg.policies) total += (dir ? p.destination : p.source).size();
    if (total <= WANLB_POLICY_PREFIXES) continue;  // cheap bound first: the common case
    for (int family : {AF_INET, AF_INET6}) {
      std::unordered_set<std::string> distinct;
      for (const PolicyConfig& p : cfg.policies)
        for (const Prefix& x : dir ? p.destination : p.source)
          if (x.addr.family == family) distinct.insert(prefix_key(x));
      if (distinct.size() > WANLB_POLICY_PREFIXES)
        fail(f.line, f.path,
             std::to_string(distinct.size()) + " distinct " + (family == AF_INET ? "IPv4 " : "IPv6 ") +
                 (dir ? "destination" : "source") + " prefixes over all policies; the data path holds at most " +
                 std::to_string(WANLB_POLICY_PREFIXES));
    }
  }
}

PolicyConfig Parser::parse_policy(const Field& item, size_t index, const Config& cfg, int* name_line) const {
  const Fields f = fields(item, kPolicyKeys);
  require(f, "to", item);
  auto has = [&](const char* k) { return f.count(k) != 0; };
  PolicyConfig p;
  p.line = item.line;
  p.name = "policy" + std::to_string(index + 1);
  if (has("name")) {
    const Field& n = f.at("name");
    p.name = scalar(n, "a name");
    if (!valid_policy_name(p.name))
      fail(n.line, n.path, "'" + p.name + "' is not a valid name (1..31 chars of A-Z a-z 0-9 _ . -)");
    *name_line = n.line;
  }
  if (has("source")) parse_prefixes(f.at("source"), "source", &p.source);
  if (has("destination")) parse_prefixes(f.at("destination"), "destination", &p.destination);
  if (has("protocol")) p.protocol = parse_protocol(f.at("protocol"));
  if (has("ports")) {
    const Field& pf = f.at("ports");
    p.ports = parse_ports(pf);
    if (p.protocol != kProtoTcp && p.protocol != kProtoUdp)
      fail(pf.line, pf.path,
           std::string("ports need protocol tcp or udp, but protocol is ") +
               (has("protocol") ? "'" + f.at("protocol").value.Scalar() + "'" : std::string("not set (any)")));
  }
  parse_to(f.at("to"), cfg, &p);
  if (has("order")) {
    const Field& o = f.at("order");
    const std::string text = scalar(o, "an order");
    if (text == "lowest-rtt") p.order_by_rtt = true;
    else if (text != "as-listed") fail(o.line, o.path, "unknown order '" + text + "' (allowed: " + join(kPolicyOrders) + ")");
    if (p.order_by_rtt && (p.action != PolicyAction::Wans || p.wans.size() < 2))
      fail(o.line, o.path, "lowest-rtt needs 'to' to list two or more WANs to order");
  }
  return p;
}

// `source` / `destination`: prefixes, bare addresses and `file:PATH`
// entries, merged into one list (a prefix given twice counts once).
void Parser::parse_prefixes(const Field& f, const char* noun, std::vector<Prefix>* out) const {
  const std::string empty_hint = std::string("must list at least one prefix or file:PATH (leave ") + noun +
                                 " out to match any " + noun + ")";
  if (f.value.IsNull()) fail(f.line, f.path, empty_hint);
  const std::vector<Field> items = list(f);
  if (items.empty()) fail(f.line, f.path, empty_hint);
  std::unordered_set<std::string> seen;
  bool had_file = false;
  for (const Field& item : items) {
    // `- file: x.txt` is a YAML mapping, not the string "file:x.txt".
    if (item.value.IsMap() && item.value.size() == 1 && item.value.begin()->first.IsScalar() &&
        item.value.begin()->first.Scalar() == "file")
      fail(item.line, item.path, "got a mapping; write file:PATH without a space after the colon (or quote it)");
    const std::string text = scalar(item, "a prefix or file:PATH");
    if (text.compare(0, 5, "file:") == 0) {
      size_t b = 5, e = text.size();
      while (b < e && is_space(text[b])) b++;
      while (e > b && is_space(text[e - 1])) e--;
      const std::string path = text.substr(b, e - b);
      if (path.empty()) fail(item.line, item.path, "'" + text + "' names no file");
      read_prefix_file(item, path[0] == '/' ? path : dir_ + path, out, &seen);
      had_file = true;
      continue;
    }
    Prefix p;
    std::string why;
    if (!parse_prefix(text, &p, &why)) fail(item.line, item.path, "'" + text + "': " + why);
    if (seen.insert(prefix_key(p)).second) out->push_back(p);
  }
  // Only files can leave the list empty. An empty condition would match
  // everything: the opposite of what a (temporarily) empty list means.
  if (out->empty() && had_file)
    fail(f.line, f.path,
         std::string("no prefixes: the listed files hold none, and an empty ") + noun + " would match every " + noun);
}

// One prefix per line; `#` starts a comment; blank lines and surrounding
// whitespace are ignored. Linear in the file size: these lists can hold a
// whole country's address space.
void Parser::read_prefix_file(const Field& item, const std::string& path, std::vector<Prefix>* out,
                              std::unordered_set<std::string>* seen) const {
  std::string text, err;
  if (!read_whole_file(path, &text, &err)) fail(item.line, item.path, "cannot read " + path + ": " + err);
  auto fail_at = [&](size_t line, const std::string& problem) {
    throw ConfigError(path + ":" + std::to_string(line) + ": " + problem + " (" + item.path + ")");
  };
  size_t line = 0;
  size_t pos = 0;
  std::string entry, why;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    line++;
    size_t b = pos, e = nl;
    pos = nl + 1;
    const void* hash = std::memchr(text.data() + b, '#', e - b);
    if (hash) e = size_t(static_cast<const char*>(hash) - text.data());
    while (b < e && is_space(text[b])) b++;
    while (e > b && is_space(text[e - 1])) e--;
    if (b == e) continue;
    entry.assign(text, b, e - b);
    for (char c : entry)
      if (is_space(c)) fail_at(line, "'" + entry + "': one prefix per line");
    Prefix p;
    if (!parse_prefix(entry, &p, &why)) fail_at(line, "'" + entry + "': " + why);
    if (seen->insert(prefix_key(p)).second) out->push_back(p);
  }
}

uint8_t Parser::parse_protocol(const Field& f) const {
  const std::string text = scalar(f, "a protocol");
  if (text == "tcp") return kProtoTcp;
  if (text == "udp") return kProtoUdp;
  if (text == "icmp") return 1;
  if (text == "icmpv6") return 58;
  uint64_t v = 0;
  if (!parse_uint(text, &v))
    fail(f.line, f.path, "unknown protocol '" + text + "' (allowed: " + join(kProtocols) + ", or a number 1..255)");
  // 0 is how the data path spells "any protocol": it cannot be a condition.
  if (v == 0) fail(f.line, f.path, "0 is out of range 1..255 (leave protocol out to match any protocol)");
  if (v > 255) fail(f.line, f.path, text + " is out of range 1..255");
  return uint8_t(v);
}

std::vector<PortRange> Parser::parse_ports(const Field& f) const {
  const std::vector<Field> items = list(f);
  if (items.empty()) fail(f.line, f.path, "must list at least one port or range (leave ports out to match any port)");
  if (items.size() > WANLB_POLICY_MAX_PORTS)
    fail(f.line, f.path,
         std::to_string(items.size()) + " entries, at most " + std::to_string(WANLB_POLICY_MAX_PORTS) +
             " are supported (ranges such as 10000-20000 count as one)");
  // Decimal digits only: a port is not a mark, 0x forms would only confuse.
  auto port = [](const std::string& s, uint32_t* v) {
    if (s.empty() || s.size() > 5) return false;
    *v = 0;
    for (char c : s) {
      if (c < '0' || c > '9') return false;
      *v = *v * 10 + uint32_t(c - '0');
    }
    return true;
  };
  std::vector<PortRange> out;
  for (size_t i = 0; i < items.size(); i++) {
    const Field& item = items[i];
    const std::string text = scalar(item, "a port or a range such as 10000-20000");
    const size_t dash = text.find('-');
    uint32_t lo = 0, hi = 0;
    const bool ok = dash == std::string::npos ? port(text, &lo) && port(text, &hi)
                                              : port(text.substr(0, dash), &lo) && port(text.substr(dash + 1), &hi);
    if (!ok) fail(item.line, item.path, "expected a port 1..65535 or a range such as 10000-20000, got '" + text + "'");
    for (uint32_t v : {lo, hi})
      if (v < 1 || v > 65535) fail(item.line, item.path, "'" + text + "': port " + std::to_string(v) + " is out of range 1..65535");
    if (lo > hi) fail(item.line, item.path, "'" + text + "': the range starts above its end");
    const PortRange r{uint16_t(lo), uint16_t(hi)};
    for (size_t j = 0; j < out.size(); j++)
      if (out[j] == r) fail(item.line, item.path, "duplicate port '" + text + "' (also " + f.path + "[" + std::to_string(j) + "])");
    out.push_back(r);
  }
  return out;
}

// `to: isp2`, `to: [isp1, isp2]`, `to: balance` or `to: bypass`.
void Parser::parse_to(const Field& f, const Config& cfg, PolicyConfig* p) const {
  std::vector<std::string> names;
  for (const WanConfig& w : cfg.wans) names.push_back(w.name);
  auto wan_index = [&](const std::string& name) {
    for (size_t i = 0; i < cfg.wans.size(); i++)
      if (cfg.wans[i].name == name) return int(i);
    return -1;
  };
  auto add = [&](const Field& item, const std::string& name) {
    const int i = wan_index(name);
    if (i < 0) {
      const bool keyword = name == "balance" || name == "bypass";
      fail(item.line, item.path,
           "unknown WAN '" + name + "' (configured: " + join(names) + ")" +
               (keyword ? "; '" + name + "' is a word of its own: write to: " + name + ", not in a list" : std::string()));
    }
    for (size_t j = 0; j < p->wans.size(); j++)
      if (p->wans[j] == name)
        fail(item.line, item.path, "duplicate WAN '" + name + "' (also " + f.path + "[" + std::to_string(j) + "])");
    p->wans.push_back(name);
    p->wan_ids.push_back(cfg.wans[size_t(i)].id);
  };
  p->action = PolicyAction::Wans;
  if (f.value.IsScalar()) {
    const std::string text = f.value.Scalar();
    if (text == "balance" || text == "bypass") {
      // A WAN may be called that; the list form always means WAN names.
      const int i = wan_index(text);
      if (i >= 0)
        fail(f.line, f.path,
             "'" + text + "' is both a keyword and the name of wans[" + std::to_string(i) + "]; write to: [" + text +
                 "] to mean the WAN");
      p->action = text == "balance" ? PolicyAction::Balance : PolicyAction::Bypass;
      return;
    }
    add(f, text);
    return;
  }
  if (!f.value.IsSequence())
    fail(f.line, f.path, "expected a WAN name, a list of WAN names, 'balance' or 'bypass', got " + describe(f.value));
  const std::vector<Field> items = list(f);
  if (items.empty()) fail(f.line, f.path, "must list at least one WAN");
  if (items.size() > WANLB_POLICY_MAX_WANS)
    fail(f.line, f.path,
         std::to_string(items.size()) + " WANs, at most " + std::to_string(WANLB_POLICY_MAX_WANS) + " are supported");
  for (const Field& item : items) add(item, scalar(item, "a WAN name"));
}

}  // namespace

// ------------------------------------------------------------ entry points

Config parse_config(const std::string& yaml_text, const std::string& source) {
  Node root;
  try {
    std::istringstream in(yaml_text);
    YAML::Parser parser(in);
    DocCounter counter;
    for (int i = 0; i < 2 && parser.HandleNextDocument(counter); i++) {
    }
    if (counter.docs == 0) throw ConfigError(source + ":1: top level: empty file, expected a mapping");
    // A second document would be silently ignored by YAML::Load.
    if (counter.docs > 1)
      throw ConfigError(source + ":" + std::to_string(counter.second_line ? counter.second_line : 1) +
                        ": top level: expected one YAML document, found more");
    root = YAML::Load(yaml_text);
  } catch (const YAML::ParserException& e) {
    throw ConfigError(source + ":" + std::to_string(e.mark.is_null() ? 1 : e.mark.line + 1) +
                      ": YAML syntax error: " + printable(e.msg));
  }
  try {
    return Parser(source).parse(root);
  } catch (const YAML::Exception& e) {
    // Should not happen (every access is type-checked first), but never let
    // a yaml-cpp exception escape without the file name.
    throw ConfigError(source + ":" + std::to_string(e.mark.is_null() ? 1 : e.mark.line + 1) + ": top level: " + e.msg);
  }
}

const char* lan_mode_name(LanMode m) { return m == LanMode::Xdp ? "xdp" : "tc"; }

LanMode lan_mode_of(const Config& cfg, const std::string& ifname) {
  for (size_t i = 0; i < cfg.lan.size(); i++) {
    const std::string& entry = cfg.lan[i];
    bool match = is_interface_pattern(entry) ? fnmatch(entry.c_str(), ifname.c_str(), 0) == 0 : entry == ifname;
    if (match) return i < cfg.lan_modes.size() ? cfg.lan_modes[i] : LanMode::Tc;
  }
  return LanMode::Tc;
}

uint32_t wan_nat_flags(const WanConfig& w) {
  return (w.nat == NatMode::None ? WANLB_WAN_F_NO_NAT : 0u) | (w.nat6 == NatMode::None ? WANLB_WAN_F_NO_NAT6 : 0u);
}

Config load_config(const std::string& path) {
  std::string text, err;
  if (!read_whole_file(path, &text, &err)) throw ConfigError("cannot read " + path + ": " + err);
  return parse_config(text, path);
}

void validate_interfaces(const Config& cfg, const std::function<bool(const std::string&)>& exists) {
  auto fail = [&](int line, const std::string& path, const std::string& name) {
    throw ConfigError(cfg.source + ":" + std::to_string(line) + ": " + path + ": interface '" + name +
                      "' does not exist");
  };
  for (size_t i = 0; i < cfg.lan.size(); i++)
    if (!exists(cfg.lan[i])) fail(i < cfg.lan_lines.size() ? cfg.lan_lines[i] : 1, "lan[" + std::to_string(i) + "]", cfg.lan[i]);
  for (size_t i = 0; i < cfg.wans.size(); i++)
    if (!exists(cfg.wans[i].interface))
      fail(cfg.wans[i].interface_line, "wans[" + std::to_string(i) + "].interface", cfg.wans[i].interface);
}

}  // namespace wanlb
