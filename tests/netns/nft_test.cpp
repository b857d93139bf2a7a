// Nft: `table inet wanlb` through libnftables, in a private network
// namespace (PrivateNetnsTest). Each test makes its Nft inside the private
// namespace, so libnftables' netlink socket, and the table, live there; the
// host's ruleset is never touched. Checks go through the nft CLI
// (`nft -j list table inet wanlb`), conntrack -L and socat, all forked from
// this thread and so inside the private namespace too.
//
// For traffic, a "peer" process sits in a second namespace (forked here,
// unshare(CLONE_NEWNET)), on the other end of the WAN veth:
//   router (private ns)                         peer ns
//   lo 192.168.77.1/32, fd00:77::1/128
//   wan0 10.100.1.2/24 fd00:100:1::2/64  <-->  wan0p 10.100.1.1/24 fd00:100:1::1/64
//   wan1 10.100.2.2/24                   <-->  wan1p (left in the router ns)
#include "nft.h"

#include "netns/netns_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace wanlb {
namespace {

using nlohmann::json;
using wanlb_test::sh;
using wanlb_test::sh_out;

// A process parked in a network namespace of its own (a child of the current
// one); commands run there through nsenter. Killed (by its pid) on destruction.
class PeerNetns {
 public:
  PeerNetns() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      // Child: only async-signal-safe calls.
      ::close(p[0]);
      char ok = ::unshare(CLONE_NEWNET) == 0 ? 1 : 0;
      if (::write(p[1], &ok, 1) != 1 || !ok) ::_exit(1);
      for (;;) ::pause();
    }
    ::close(p[1]);
    char ok = 0;
    if (pid_ > 0 && ::read(p[0], &ok, 1) == 1 && ok == 1) ready_ = true;
    ::close(p[0]);
  }
  ~PeerNetns() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  PeerNetns(const PeerNetns&) = delete;
  PeerNetns& operator=(const PeerNetns&) = delete;

  bool ready() const { return ready_; }
  std::string pid() const { return std::to_string(pid_); }
  // `cmd` as a command line that runs in the peer's namespace.
  std::string in(const std::string& cmd) const { return "nsenter -t " + pid() + " -n " + cmd; }

 private:
  pid_t pid_ = -1;
  bool ready_ = false;
};

NftWan wan(const std::string& ifname, uint32_t mark, NatMode nat4, NatMode nat6) {
  NftWan w;
  w.ifname = ifname;
  w.mark = mark;
  w.nat4 = nat4;
  w.nat6 = nat6;
  return w;
}

constexpr uint32_t kMask = 0x00ff0000;

std::vector<NftWan> two_wans() {
  return {wan("wan0", 0x10000, NatMode::Masquerade, NatMode::Masquerade),
          wan("wan1", 0x20000, NatMode::None, NatMode::Masquerade)};
}

// `nft -j list table inet wanlb`, summarised.
struct Listed {
  bool ok = false;
  json chains = json::object();        // name -> chain object
  std::vector<json> dispatch, post, other;  // rules per chain: prerouting, postrouting, others
  std::map<int, json> tags;                // chain tagN -> its rule (one per WAN)
};

Listed list_json() {
  Listed l;
  std::string out = sh_out("nft -j list table inet wanlb 2>/dev/null");
  if (out.empty()) return l;
  json j = json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.contains("nftables")) return l;
  l.ok = true;
  for (const json& item : j["nftables"]) {
    if (item.contains("chain")) l.chains[item["chain"]["name"].get<std::string>()] = item["chain"];
    if (item.contains("rule")) {
      const json& r = item["rule"];
      std::string c = r["chain"].get<std::string>();
      if (c.rfind("tag", 0) == 0)
        l.tags[std::stoi(c.substr(3))] = r;
      else
        (c == "prerouting" ? l.dispatch : c == "postrouting" ? l.post : l.other).push_back(r);
    }
  }
  return l;
}

// The interface name a rule matches (iifname/oifname), or "".
std::string rule_ifname(const json& rule) {
  for (const json& e : rule["expr"]) {
    if (!e.contains("match")) continue;
    const json& left = e["match"]["left"];
    if (left.contains("meta") && (left["meta"]["key"] == "iifname" || left["meta"]["key"] == "oifname"))
      return e["match"]["right"].get<std::string>();
  }
  return "";
}

// The nfproto a rule matches ("ipv4"/"ipv6"), or "".
std::string rule_nfproto(const json& rule) {
  for (const json& e : rule["expr"]) {
    if (e.contains("match") && e["match"]["left"].contains("meta") && e["match"]["left"]["meta"]["key"] == "nfproto")
      return e["match"]["right"].get<std::string>();
  }
  return "";
}

bool rule_has(const json& rule, const std::string& key) {
  for (const json& e : rule["expr"])
    if (e.contains(key)) return true;
  return false;
}

// The interface each tag chain is for (in chain order, tag0 first), from
// the dispatch rule's `iifname vmap`.
std::vector<std::string> mark_rule_ifnames(const Listed& l) {
  std::map<std::string, std::string> target_if;  // "tag0" -> "wan0"
  for (const json& r : l.dispatch)
    for (const json& e : r["expr"]) {
      if (!e.contains("vmap")) continue;
      for (const json& elem : e["vmap"]["data"]["set"]) target_if[elem[1]["goto"]["target"]] = elem[0];
    }
  std::vector<std::string> v;
  for (const auto& [n, rule] : l.tags) v.push_back(target_if["tag" + std::to_string(n)]);
  return v;
}

// "ipv4 wan0" per masquerade rule.
std::vector<std::string> masq_rules(const Listed& l) {
  std::vector<std::string> v;
  for (const json& r : l.post)
    if (rule_has(r, "masquerade")) v.push_back(rule_nfproto(r) + " " + rule_ifname(r));
  return v;
}

class NftTest : public wanlb_test::PrivateNetnsTest {
 protected:
  void SetUp() override {
    PrivateNetnsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (sh("command -v nft >/dev/null 2>&1") != 0) GTEST_SKIP() << "the nft CLI is missing (apt-get install nftables)";
    // An empty ruleset: this is a fresh namespace, not the host's.
    ASSERT_EQ(sh_out("nft list tables"), "");
    // Veth pairs named like WANs (no dummy driver on this kernel).
    ASSERT_EQ(sh("ip link add wan0 type veth peer name wan0p && ip link add wan1 type veth peer name wan1p"), 0);
    ASSERT_EQ(sh("for l in wan0 wan0p wan1 wan1p; do ip link set $l up || exit 1; done"), 0);
    nft_ = std::make_unique<Nft>();  // in the private namespace
  }

  void TearDown() override {
    nft_.reset();  // its netlink socket was opened in the private namespace
    PrivateNetnsTest::TearDown();
  }

  std::unique_ptr<Nft> nft_;
};

TEST_F(NftTest, AppliesChainsAndRules) {
  EXPECT_FALSE(nft_->exists());
  EXPECT_EQ(nft_->list(), "");
  nft_->apply(render_nft_ruleset(two_wans(), kMask));
  EXPECT_TRUE(nft_->exists());
  EXPECT_EQ(sh_out("nft list tables"), "table inet wanlb\n");

  Listed l = list_json();
  ASSERT_TRUE(l.ok);
  ASSERT_TRUE(l.chains.contains("prerouting")) << l.chains.dump();
  ASSERT_TRUE(l.chains.contains("postrouting")) << l.chains.dump();
  EXPECT_EQ(l.chains.size(), 4u);  // prerouting, postrouting, tag0, tag1
  const json& pre = l.chains["prerouting"];
  EXPECT_EQ(pre["type"], "filter");
  EXPECT_EQ(pre["hook"], "prerouting");
  EXPECT_EQ(pre["prio"], -150);  // mangle
  EXPECT_EQ(pre["policy"], "accept");
  const json& post = l.chains["postrouting"];
  EXPECT_EQ(post["type"], "nat");
  EXPECT_EQ(post["hook"], "postrouting");
  EXPECT_EQ(post["prio"], 100);  // srcnat
  EXPECT_EQ(post["policy"], "accept");

  EXPECT_EQ(mark_rule_ifnames(l), (std::vector<std::string>{"wan0", "wan1"}));
  EXPECT_EQ(masq_rules(l), (std::vector<std::string>{"ipv4 wan0", "ipv6 wan0", "ipv6 wan1"}));
  // One dispatch rule: ct state new, then the interface map.
  ASSERT_EQ(l.dispatch.size(), 1u);
  EXPECT_NE(l.dispatch[0].dump().find("{\"ct\":{\"key\":\"state\"}},\"op\":\"in\",\"right\":\"new\""),
            std::string::npos)
      << l.dispatch[0].dump();
  EXPECT_EQ(l.post.size(), 3u);
  EXPECT_TRUE(l.other.empty());

  // The mark rule: ct state new, ct mark = (ct mark & ~mask) | mark. nft
  // lists `(m & a) | b` as `m & (a | b) | b` (the same function: b's bits end
  // up set either way), so compare what the rule computes, not its text.
  ASSERT_EQ(l.tags.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    const json& r = l.tags[i];
    const uint32_t mark = i == 0 ? 0x10000 : 0x20000;
    std::string dump = r.dump();
    const json* mangle = nullptr;
    for (const json& e : r["expr"])
      if (e.contains("mangle")) mangle = &e["mangle"];
    ASSERT_NE(mangle, nullptr) << dump;
    EXPECT_EQ((*mangle)["key"], json::parse(R"({"ct":{"key":"mark"}})")) << dump;
    const json& orv = (*mangle)["value"]["|"];
    ASSERT_TRUE(orv.is_array() && orv.size() == 2) << dump;
    const json& andv = orv[0]["&"];
    ASSERT_TRUE(andv.is_array() && andv.size() == 2) << dump;
    EXPECT_EQ(andv[0], json::parse(R"({"ct":{"key":"mark"}})")) << dump;
    const uint32_t a = andv[1].get<uint32_t>(), b = orv[1].get<uint32_t>();
    for (uint32_t ctmark : {0u, 0xffffffffu, 0x00ff0001u, 0x12345678u, 0x00030000u})
      EXPECT_EQ((ctmark & a) | b, (ctmark & ~kMask) | mark) << std::hex << ctmark << " " << dump;
  }
  std::string text = nft_->list();
  EXPECT_NE(text.find("iifname vmap { "), std::string::npos) << text;
  EXPECT_NE(text.find("\"wan1\" : goto tag1"), std::string::npos) << text;
}

TEST_F(NftTest, ApplyReplacesTheTable) {
  nft_->apply(render_nft_ruleset(two_wans(), kMask));
  std::vector<NftWan> changed = {wan("wan1", 0x30000, NatMode::Masquerade, NatMode::None)};
  nft_->apply(render_nft_ruleset(changed, kMask));
  Listed l = list_json();
  ASSERT_TRUE(l.ok);
  EXPECT_EQ(mark_rule_ifnames(l), (std::vector<std::string>{"wan1"}));
  EXPECT_EQ(masq_rules(l), (std::vector<std::string>{"ipv4 wan1"}));
  EXPECT_NE(nft_->list().find("| 0x00030000"), std::string::npos) << nft_->list();

  // The same again: still one of each, no duplicates.
  std::string before = nft_->list();
  nft_->apply(render_nft_ruleset(changed, kMask));
  nft_->apply(render_nft_ruleset(changed, kMask));
  l = list_json();
  EXPECT_EQ(l.dispatch.size(), 1u);
  EXPECT_EQ(l.tags.size(), 1u);
  EXPECT_EQ(l.post.size(), 1u);
  EXPECT_EQ(l.chains.size(), 3u);
  EXPECT_EQ(nft_->list(), before);
  EXPECT_EQ(sh_out("nft list tables"), "table inet wanlb\n");

  // No WAN: the table stays, without chains.
  nft_->apply(render_nft_ruleset({}, kMask));
  l = list_json();
  EXPECT_EQ(l.chains.size(), 0u);
  EXPECT_TRUE(l.dispatch.empty());
  EXPECT_TRUE(l.tags.empty());
  EXPECT_TRUE(l.post.empty());
}

// A ruleset nft rejects throws with nft's error text and changes nothing: the
// delete of the old table is in the same transaction and goes too.
TEST_F(NftTest, BadRulesetThrowsAndKeepsThePreviousTable) {
  nft_->apply(render_nft_ruleset(two_wans(), kMask));
  const std::string before = nft_->list();
  ASSERT_FALSE(before.empty());

  const std::vector<std::string> bad = {
      // Syntax error after valid lines.
      "table inet wanlb {\n\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle;\n"
      "\t\tiifname \"wan0\" accept\n\t\tthis is not nft\n\t}\n}\n",
      // Parses, fails evaluation: masquerade in a filter chain.
      "table inet wanlb {\n\tchain postrouting {\n\t\ttype filter hook postrouting priority 0;\n"
      "\t\toifname \"wan0\" masquerade\n\t}\n}\n",
      // Jump to a chain that does not exist.
      "table inet wanlb {\n\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle;\n"
      "\t\tjump nowhere\n\t}\n}\n",
  };
  for (const std::string& rs : bad) {
    try {
      nft_->apply(rs);
      ADD_FAILURE() << "no exception for:\n" << rs;
    } catch (const std::runtime_error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("Error"), std::string::npos) << msg;  // nft's own error text
    }
    EXPECT_TRUE(nft_->exists());
    EXPECT_EQ(nft_->list(), before);
  }
  // And nothing was created on a first, failing apply either.
  ASSERT_TRUE(nft_->remove());
  EXPECT_THROW(nft_->apply(bad[0]), std::runtime_error);
  EXPECT_FALSE(nft_->exists());
  EXPECT_EQ(sh_out("nft list tables"), "");
}

TEST_F(NftTest, RemoveDeletesTheTableOnce) {
  EXPECT_FALSE(nft_->remove());
  nft_->apply(render_nft_ruleset(two_wans(), kMask));
  EXPECT_TRUE(nft_->remove());
  EXPECT_FALSE(nft_->exists());
  EXPECT_EQ(nft_->list(), "");
  EXPECT_FALSE(nft_->remove());
  EXPECT_EQ(sh_out("nft list tables"), "");
}

TEST_F(NftTest, OtherTablesSurviveApplyAndRemove) {
  ASSERT_EQ(sh("nft add table ip userfw && "
               "nft add chain ip userfw input '{ type filter hook input priority 0; policy accept; }' && "
               "nft add rule ip userfw input tcp dport 22 counter accept && "
               "nft add table inet wanlb2"),
            0);
  const std::string userfw = sh_out("nft list table ip userfw");
  ASSERT_NE(userfw.find("tcp dport 22 counter"), std::string::npos) << userfw;

  nft_->apply(render_nft_ruleset(two_wans(), kMask));
  nft_->apply(render_nft_ruleset({wan("wan0", 0x10000, NatMode::None, NatMode::None)}, kMask));
  EXPECT_EQ(sh_out("nft list tables"), "table ip userfw\ntable inet wanlb2\ntable inet wanlb\n");
  EXPECT_EQ(sh_out("nft list table ip userfw"), userfw);
  EXPECT_TRUE(nft_->remove());
  EXPECT_EQ(sh_out("nft list tables"), "table ip userfw\ntable inet wanlb2\n");
  EXPECT_EQ(sh_out("nft list table ip userfw"), userfw);
}

// Traffic: masquerade and the connection mark, with a peer namespace on the
// far end of wan0.
class NftTrafficTest : public NftTest {
 protected:
  void SetUp() override {
    NftTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    for (const char* tool : {"conntrack", "socat", "nsenter"})
      if (sh(std::string("command -v ") + tool + " >/dev/null 2>&1") != 0) GTEST_SKIP() << tool << " is missing";
    peer_ = std::make_unique<PeerNetns>();
    ASSERT_TRUE(peer_->ready()) << "cannot make the peer namespace";
    const std::string p = peer_->pid();
    ASSERT_EQ(sh("ip link set wan0p netns " + p), 0);
    // Router side. The router's own "LAN" addresses sit on lo; the peer has no
    // route back to them, so only NATed flows can get an answer.
    ASSERT_EQ(sh("ip addr add 192.168.77.1/32 dev lo && ip addr add fd00:77::1/128 dev lo && "
                 "ip addr add 10.100.1.2/24 dev wan0 && ip addr add fd00:100:1::2/64 dev wan0 nodad && "
                 "ip addr add 10.100.2.2/24 dev wan1 && ip link set wan0 up"),
              0);
    ASSERT_EQ(sh(peer_->in("sh -c 'ip link set lo up && ip link set wan0p up && "
                           "ip addr add 10.100.1.1/24 dev wan0p && ip addr add fd00:100:1::1/64 dev wan0p nodad'")),
              0);
    nft_->apply(render_nft_ruleset(two_wans(), kMask));
  }

  void TearDown() override {
    peer_.reset();
    NftTest::TearDown();
  }

  // Waits until something in the peer listens on `port` (tcp or udp).
  bool peer_listens(const std::string& proto, int port) {
    std::string flag = proto == "tcp" ? "-ltnH" : "-lunH";
    for (int i = 0; i < 50; ++i) {
      if (sh(peer_->in("ss " + flag + " 'sport = :" + std::to_string(port) + "'") + " | grep -q .") == 0) return true;
      ::usleep(100 * 1000);
    }
    return false;
  }

  // conntrack -L -o extended lines matching `filter` (conntrack options).
  static std::vector<std::string> ct_lines(const std::string& filter) {
    std::vector<std::string> v;
    std::istringstream in(sh_out("conntrack -L " + filter + " -o extended 2>/dev/null"));
    std::string line;
    while (std::getline(in, line))
      if (!line.empty()) v.push_back(line);
    return v;
  }

  std::unique_ptr<PeerNetns> peer_;
};

// A one-shot server in the peer that answers with the address it sees the
// client come from; the client binds the router's LAN address.
TEST_F(NftTrafficTest, MasqueradeRewritesTheSource) {
  // IPv4, TCP.
  ASSERT_EQ(sh("timeout 10 " + peer_->in("socat -T5 TCP4-LISTEN:7000,bind=10.100.1.1,reuseaddr "
                                         "SYSTEM:'echo $SOCAT_PEERADDR'") +
               " >/dev/null 2>&1 &"),
            0);
  ASSERT_TRUE(peer_listens("tcp", 7000));
  std::string seen = sh_out("socat -T5 -t5 - TCP4:10.100.1.1:7000,bind=192.168.77.1 </dev/null 2>&1");
  EXPECT_EQ(seen, "10.100.1.2\n");  // wan0's address, not 192.168.77.1

  // The router's conntrack entry: original 192.168.77.1 -> 10.100.1.1, reply to 10.100.1.2.
  std::vector<std::string> ct = ct_lines("-p tcp --dport 7000");
  ASSERT_EQ(ct.size(), 1u);
  EXPECT_NE(ct[0].find("src=192.168.77.1 dst=10.100.1.1"), std::string::npos) << ct[0];
  EXPECT_NE(ct[0].find("src=10.100.1.1 dst=10.100.1.2"), std::string::npos) << ct[0];
  // Started here, not on a WAN: no WAN mark.
  EXPECT_EQ(ct[0].find("mark=0 "), ct[0].find("mark=")) << ct[0];

  // IPv6, TCP (nat6: masquerade on wan0).
  ASSERT_EQ(sh("timeout 10 " + peer_->in("socat -T5 TCP6-LISTEN:7006,bind=[fd00:100:1::1],reuseaddr "
                                         "SYSTEM:'echo $SOCAT_PEERADDR'") +
               " >/dev/null 2>&1 &"),
            0);
  ASSERT_TRUE(peer_listens("tcp", 7006));
  seen = sh_out("socat -T5 -t5 - TCP6:[fd00:100:1::1]:7006,bind=[fd00:77::1] </dev/null 2>&1");
  // socat writes the peer's IPv6 address in full.
  EXPECT_EQ(seen, "[fd00:0100:0001:0000:0000:0000:0000:0002]\n");
  ct = ct_lines("-f ipv6 -p tcp --dport 7006");
  ASSERT_EQ(ct.size(), 1u);
  EXPECT_NE(ct[0].find("src=fd00:77::1 dst=fd00:100:1::1"), std::string::npos) << ct[0];
  EXPECT_NE(ct[0].find("src=fd00:100:1::1 dst=fd00:100:1::2"), std::string::npos) << ct[0];

  // IPv4, UDP.
  ASSERT_EQ(sh("timeout 10 " + peer_->in("socat -T5 UDP4-RECVFROM:7001,bind=10.100.1.1 "
                                         "SYSTEM:'echo $SOCAT_PEERADDR'") +
               " >/dev/null 2>&1 &"),
            0);
  ASSERT_TRUE(peer_listens("udp", 7001));
  seen = sh_out("echo hi | socat -T2 - UDP4:10.100.1.1:7001,bind=192.168.77.1 2>&1");
  EXPECT_EQ(seen, "10.100.1.2\n");
  ct = ct_lines("-p udp --dport 7001");
  ASSERT_EQ(ct.size(), 1u);
  EXPECT_NE(ct[0].find("src=10.100.1.1 dst=10.100.1.2"), std::string::npos) << ct[0];

  // wan1 has nat: none for IPv4: the reply tuple goes to the original source.
  ASSERT_EQ(sh("ip neigh replace 10.100.2.1 lladdr 02:00:00:00:00:01 dev wan1 nud permanent"), 0);
  sh("echo hi | socat -u - UDP4:10.100.2.1:7002,bind=192.168.77.1 >/dev/null 2>&1");
  ct = ct_lines("-p udp --dport 7002");
  ASSERT_EQ(ct.size(), 1u);
  EXPECT_NE(ct[0].find("src=10.100.2.1 dst=192.168.77.1"), std::string::npos) << ct[0];
}

// A connection that comes in on a WAN gets the WAN's mark in the mask's bits
// of its conntrack mark; the other bits (here set by the user's own table,
// which runs earlier in prerouting) stay.
TEST_F(NftTrafficTest, NewInboundConnectionGetsTheWanMark) {
  ASSERT_EQ(sh("nft add table ip userfw && "
               "nft add chain ip userfw pre '{ type filter hook prerouting priority -180; policy accept; }' && "
               "nft add rule ip userfw pre iifname wan0 ct state new ct mark set 0x00ff0001"),
            0);
  // A TCP connection from the peer to a server on the router (wan0's address).
  ASSERT_EQ(sh("timeout 10 socat -T5 TCP4-LISTEN:7100,bind=10.100.1.2,reuseaddr SYSTEM:'echo hello' "
               ">/dev/null 2>&1 &"),
            0);
  bool listening = false;
  for (int i = 0; i < 50 && !listening; ++i) {
    listening = sh("ss -ltnH 'sport = :7100' | grep -q .") == 0;
    if (!listening) ::usleep(100 * 1000);
  }
  ASSERT_TRUE(listening);
  EXPECT_EQ(sh_out(peer_->in("socat -T5 -t5 - TCP4:10.100.1.2:7100 </dev/null 2>&1")), "hello\n");

  std::vector<std::string> ct = ct_lines("-p tcp --dport 7100");
  ASSERT_EQ(ct.size(), 1u);
  // 0x00ff0001 & ~0x00ff0000 | 0x00010000 = 0x00010001 = 65537.
  EXPECT_NE(ct[0].find("mark=65537 "), std::string::npos) << ct[0];
  EXPECT_EQ(ct_lines("-p tcp --dport 7100 --mark 0x10001").size(), 1u);

  // UDP from the peer (to a closed port: the entry is made all the same).
  sh(peer_->in("sh -c 'echo hi | socat -u - UDP4:10.100.1.2:7101,bind=10.100.1.1:7102'") + " >/dev/null 2>&1");
  ct = ct_lines("-p udp --dport 7101");
  ASSERT_EQ(ct.size(), 1u);
  EXPECT_NE(ct[0].find("mark=65537 "), std::string::npos) << ct[0];

  // Without the user's bits: just the WAN's mark.
  ASSERT_EQ(sh("nft delete table ip userfw"), 0);
  sh(peer_->in("sh -c 'echo hi | socat -u - UDP4:10.100.1.2:7103'") + " >/dev/null 2>&1");
  ct = ct_lines("-p udp --dport 7103");
  ASSERT_EQ(ct.size(), 1u);
  EXPECT_NE(ct[0].find("mark=65536 "), std::string::npos) << ct[0];
}

// A packet that already carries a WAN's mark was classified by the LAN data
// path, so it did not come in from a WAN: its connection is not tagged
// (the rule skips the interface lookup for it). Here the user's table sets
// wanlb's bits before wanlb's chain runs, as wanlb_tc_lan does on a LAN.
TEST_F(NftTrafficTest, MarkedPacketIsNotTaggedAsInbound) {
  ASSERT_EQ(sh("nft add table ip userfw && "
               "nft add chain ip userfw pre '{ type filter hook prerouting priority -180; policy accept; }' && "
               "nft add rule ip userfw pre iifname wan0 udp dport 7110 meta mark set 0x00020000"),
            0);
  sh(peer_->in("sh -c 'echo hi | socat -u - UDP4:10.100.1.2:7110'") + " >/dev/null 2>&1");
  std::vector<std::string> ct = ct_lines("-p udp --dport 7110");
  ASSERT_EQ(ct.size(), 1u);
  EXPECT_NE(ct[0].find("mark=0 "), std::string::npos) << ct[0];
  // The same packet without the mark is tagged: the test above would pass
  // with no tagging at all otherwise.
  sh(peer_->in("sh -c 'echo hi | socat -u - UDP4:10.100.1.2:7111'") + " >/dev/null 2>&1");
  ct = ct_lines("-p udp --dport 7111");
  ASSERT_EQ(ct.size(), 1u);
  EXPECT_NE(ct[0].find("mark=65536 "), std::string::npos) << ct[0];
}

}  // namespace
}  // namespace wanlb
