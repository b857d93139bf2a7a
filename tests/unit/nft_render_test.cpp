// render_nft_ruleset: the text of `table inet wanlb`. Pure, no privileges.
#include "nft.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace wanlb {
namespace {

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) ++n;
  return n;
}

// The body of chain `name` (between its "{" and the matching "}").
std::string chain_body(const std::string& text, const std::string& name) {
  size_t start = text.find("chain " + name + " {");
  if (start == std::string::npos) return "<no chain " + name + ">";
  start = text.find('{', start) + 1;
  size_t end = text.find("\n\t}", start);
  if (end == std::string::npos) return "<chain " + name + " not closed>";
  return text.substr(start, end + 1 - start);  // with the last rule's newline
}

std::vector<NftWan> two_wans() {
  NftWan a;
  a.ifname = "wan0";
  a.mark = 0x10000;
  a.nat4 = NatMode::Masquerade;
  a.nat6 = NatMode::None;
  NftWan b;
  b.ifname = "ppp0.7";
  b.mark = 0x20000;
  b.nat4 = NatMode::None;
  b.nat6 = NatMode::Masquerade;
  return {a, b};
}

TEST(NftRender, TwoWansChainsAndRules) {
  std::string t = render_nft_ruleset(two_wans(), 0x00ff0000);
  EXPECT_EQ(t.rfind("table inet wanlb {\n", 0), 0u) << t;
  EXPECT_EQ(count(t, "table "), 1u) << t;

  std::string pre = chain_body(t, "prerouting");
  EXPECT_NE(pre.find("type filter hook prerouting priority mangle; policy accept;"), std::string::npos) << t;
  // One dispatch rule, in the config's order, and one tagging chain per WAN.
  // Marked packets (classified on the LAN side) skip the interface lookup.
  EXPECT_NE(pre.find("ct state new meta mark and 0x00ff0000 == 0 iifname vmap { \"wan0\" : goto tag0, \"ppp0.7\" : goto tag1 }\n"),
            std::string::npos)
      << t;
  EXPECT_EQ(chain_body(t, "tag0"), "\n\t\tct mark set ct mark and 0xff00ffff or 0x00010000\n") << t;
  EXPECT_EQ(chain_body(t, "tag1"), "\n\t\tct mark set ct mark and 0xff00ffff or 0x00020000\n") << t;
  EXPECT_EQ(count(t, "ct mark set"), 2u) << t;
  EXPECT_EQ(count(pre, "masquerade"), 0u) << t;
  // In the config's order.
  EXPECT_LT(pre.find("\"wan0\""), pre.find("\"ppp0.7\"")) << t;

  std::string post = chain_body(t, "postrouting");
  EXPECT_NE(post.find("type nat hook postrouting priority srcnat; policy accept;"), std::string::npos) << t;
  EXPECT_NE(post.find("meta nfproto ipv4 oifname \"wan0\" masquerade\n"), std::string::npos) << t;
  EXPECT_NE(post.find("meta nfproto ipv6 oifname \"ppp0.7\" masquerade\n"), std::string::npos) << t;
  // nat6: none on wan0, nat: none on ppp0.7.
  EXPECT_EQ(post.find("ipv6 oifname \"wan0\""), std::string::npos) << t;
  EXPECT_EQ(post.find("ipv4 oifname \"ppp0.7\""), std::string::npos) << t;
  EXPECT_EQ(count(post, "masquerade"), 2u) << t;
  EXPECT_EQ(count(post, "ct mark"), 0u) << t;
}

TEST(NftRender, BothFamiliesMasqueradeOrNone) {
  std::vector<NftWan> w = two_wans();
  w[0].nat6 = NatMode::Masquerade;
  w[1].nat4 = NatMode::Masquerade;
  std::string post = chain_body(render_nft_ruleset(w, 0x00ff0000), "postrouting");
  EXPECT_EQ(count(post, "masquerade"), 4u) << post;
  EXPECT_NE(post.find("meta nfproto ipv4 oifname \"ppp0.7\" masquerade"), std::string::npos) << post;
  EXPECT_NE(post.find("meta nfproto ipv6 oifname \"wan0\" masquerade"), std::string::npos) << post;
  // IPv4 before IPv6 within one WAN.
  EXPECT_LT(post.find("ipv4 oifname \"wan0\""), post.find("ipv6 oifname \"wan0\"")) << post;

  for (NftWan& x : w) x.nat4 = x.nat6 = NatMode::None;
  std::string t = render_nft_ruleset(w, 0x00ff0000);
  // No NAT at all: no nat chain, whose hooks alone would cost every packet.
  EXPECT_EQ(t.find("chain postrouting"), std::string::npos) << t;
  EXPECT_EQ(count(t, "masquerade"), 0u) << t;
  // The connection marks do not depend on NAT.
  EXPECT_EQ(count(t, "ct mark set"), 2u) << t;
}

// However many WANs, the prerouting chain holds one rule: a packet is tested
// once, not once per WAN.
TEST(NftRender, OneDispatchRuleForAnyNumberOfWans) {
  std::vector<NftWan> w;
  for (uint32_t i = 0; i < 8; ++i) {
    NftWan x;
    x.ifname = "wan" + std::to_string(i + 1);
    x.mark = (i + 1) << 16;
    w.push_back(x);
  }
  std::string t = render_nft_ruleset(w, 0x00ff0000);
  std::string pre = chain_body(t, "prerouting");
  EXPECT_EQ(count(pre, "\n\t\t"), 2u) << pre;  // the chain type and one rule
  EXPECT_EQ(count(pre, " : goto tag"), 8u) << pre;
  EXPECT_EQ(chain_body(t, "tag7"), "\n\t\tct mark set ct mark and 0xff00ffff or 0x00080000\n") << t;
}

TEST(NftRender, RefusesAnInterfaceTwice) {
  std::vector<NftWan> w = two_wans();
  w[1].ifname = w[0].ifname;
  EXPECT_THROW(render_nft_ruleset(w, 0x00ff0000), std::invalid_argument);
}

// `inbound: none`: no conntrack tagging; NAT stays where configured.
TEST(NftRender, InboundNoneDropsTheTaggingChain) {
  std::string t = render_nft_ruleset(two_wans(), 0x00ff0000, false);
  EXPECT_EQ(t.find("chain prerouting"), std::string::npos) << t;
  EXPECT_EQ(t.find("chain tag"), std::string::npos) << t;
  EXPECT_EQ(count(t, "ct mark"), 0u) << t;
  EXPECT_EQ(count(chain_body(t, "postrouting"), "masquerade"), 2u) << t;

  // Neither tagging nor NAT: an empty table, so conntrack is never needed.
  std::vector<NftWan> w = two_wans();
  for (NftWan& x : w) x.nat4 = x.nat6 = NatMode::None;
  t = render_nft_ruleset(w, 0x00ff0000, false);
  EXPECT_NE(t.find("table inet wanlb {"), std::string::npos) << t;
  EXPECT_EQ(t.find("chain"), std::string::npos) << t;
}

TEST(NftRender, MarkArithmetic) {
  NftWan w;
  w.ifname = "eth1";
  w.mark = 0x20000;
  EXPECT_NE(render_nft_ruleset({w}, 0x00ff0000).find("ct mark set ct mark and 0xff00ffff or 0x00020000"),
            std::string::npos);
  w.mark = 0x3;
  EXPECT_NE(render_nft_ruleset({w}, 0x0000000f).find("ct mark set ct mark and 0xfffffff0 or 0x00000003"),
            std::string::npos);
  w.mark = 0x80000000;
  EXPECT_NE(render_nft_ruleset({w}, 0xff000000).find("ct mark set ct mark and 0x00ffffff or 0x80000000"),
            std::string::npos);
}

TEST(NftRender, Deterministic) {
  std::string a = render_nft_ruleset(two_wans(), 0x00ff0000);
  std::string b = render_nft_ruleset(two_wans(), 0x00ff0000);
  EXPECT_EQ(a, b);
}

// No WAN: the table alone, without chains (a base chain, even empty,
// registers its hook).
TEST(NftRender, NoWanGivesEmptyTable) {
  std::string t = render_nft_ruleset({}, 0x00ff0000);
  EXPECT_NE(t.find("table inet wanlb {"), std::string::npos) << t;
  EXPECT_EQ(t.find("chain"), std::string::npos) << t;
  EXPECT_EQ(count(t, "iifname"), 0u) << t;
  EXPECT_EQ(count(t, "oifname"), 0u) << t;
  EXPECT_EQ(count(t, "masquerade"), 0u) << t;
}

// A name that could end the quoted string or change its meaning never gets
// into the text: rendering throws instead.
TEST(NftRender, RejectsUnsafeInterfaceNames) {
  for (const std::string& bad :
       {std::string("we\"ird"), std::string("\""), std::string("wan0\" accept"), std::string("eth*"),
        std::string("a\\b"), std::string("a b"), std::string("a/b"), std::string("a:1"), std::string(""),
        std::string("0123456789abcdef"), std::string("tab\t"), std::string("nl\n"), std::string("\xc3\xa9")}) {
    NftWan w;
    w.ifname = bad;
    w.mark = 0x10000;
    EXPECT_THROW(render_nft_ruleset({w}, 0x00ff0000), std::invalid_argument) << "'" << bad << "'";
  }
  NftWan ok;
  ok.ifname = "enp3s0.100-x_y";  // 14 chars, the usual alphabet
  ok.mark = 0x10000;
  EXPECT_NO_THROW(render_nft_ruleset({ok}, 0x00ff0000));
  ok.ifname = "0123456789abcde";  // 15: the longest
  EXPECT_NO_THROW(render_nft_ruleset({ok}, 0x00ff0000));
}

TEST(NftRender, RejectsMarksOutsideTheMask) {
  NftWan w;
  w.ifname = "wan0";
  w.mark = 0x1000000;  // outside 0x00ff0000
  EXPECT_THROW(render_nft_ruleset({w}, 0x00ff0000), std::invalid_argument);
  w.mark = 0;
  EXPECT_THROW(render_nft_ruleset({w}, 0x00ff0000), std::invalid_argument);
  w.mark = 0x10000;
  EXPECT_THROW(render_nft_ruleset({w}, 0), std::invalid_argument);
}

}  // namespace
}  // namespace wanlb
