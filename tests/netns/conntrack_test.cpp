// flush_conntrack_nated_to: entries NATed to a dead WAN's address go, all
// others stay. Runs in a private network namespace (conntrack tables are
// per namespace), entries are made with the `conntrack` CLI (Debian package
// `conntrack`) and checked with `conntrack -L`.
#include "conntrack.h"

#include "netns/netns_fixture.h"

#include <sys/socket.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace wanlb {
namespace {

using wanlb_test::sh;
using wanlb_test::sh_out;

IpAddr ip(const std::string& s) {
  IpAddr a;
  EXPECT_TRUE(parse_ip(s, &a)) << s;
  return a;
}

// Addresses: LAN clients, servers "on the internet", the two WANs' own
// addresses (what clients are source-NATed to). All private ranges.
const char* kClient4 = "192.168.77.10";
const char* kServer4 = "10.200.0.10";
const char* kWan1v4 = "10.100.1.2";
const char* kWan2v4 = "10.100.2.2";
const char* kClient6 = "fd00:77::10";
const char* kServer6 = "fd00:200::10";
const char* kWan1v6 = "fd00:100:1::2";
const char* kWan2v6 = "fd00:100:2::2";

class ConntrackTest : public wanlb_test::PrivateNetnsTest {
 protected:
  void SetUp() override {
    PrivateNetnsTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (sh("command -v conntrack >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "the conntrack CLI is missing (apt-get install conntrack)";
  }

  // A connection client:sport -> server:dport, source-NATed to `nat`
  // (so its reply goes server:dport -> nat:sport).
  void insert(const std::string& proto, const std::string& client, int sport, const std::string& server, int dport,
              const std::string& nat) {
    std::string cmd = "conntrack -I -p " + proto + " -s " + client + " -d " + server + " --sport " +
                      std::to_string(sport) + " --dport " + std::to_string(dport) + " -r " + server + " -q " + nat +
                      " --reply-port-src " + std::to_string(dport) + " --reply-port-dst " + std::to_string(sport) +
                      " --timeout 600";
    if (proto == "tcp") cmd += " --state ESTABLISHED -u SEEN_REPLY";
    ASSERT_EQ(sh(cmd + " >/dev/null 2>&1"), 0) << cmd;
  }

  // Reply-direction destination of every entry -> how many entries.
  static std::map<std::string, int> by_reply_dst() {
    std::map<std::string, int> out;
    std::istringstream in(sh_out("conntrack -L -o extended 2>/dev/null"));
    std::string line;
    while (std::getline(in, line)) {
      // The first dst= is the original direction's, the second the reply's.
      size_t first = line.find(" dst=");
      if (first == std::string::npos) continue;
      size_t second = line.find(" dst=", first + 1);
      if (second == std::string::npos) continue;
      size_t start = second + 5;
      out[line.substr(start, line.find(' ', start) - start)]++;
    }
    return out;
  }

  // Three TCP and one UDP connection per WAN and family, plus an incoming
  // connection to WAN 1's own address (original dst = WAN 1, reply dst = the
  // remote peer), which is not NATed to WAN 1 and must stay.
  void populate() {
    for (int i = 0; i < 3; ++i) {
      insert("tcp", kClient4, 40000 + i, kServer4, 80, kWan1v4);
      insert("tcp", kClient4, 41000 + i, kServer4, 443, kWan2v4);
      insert("tcp", kClient6, 40000 + i, kServer6, 80, kWan1v6);
      insert("tcp", kClient6, 41000 + i, kServer6, 443, kWan2v6);
    }
    insert("udp", kClient4, 50000, kServer4, 53, kWan1v4);
    insert("udp", kClient4, 50001, kServer4, 53, kWan2v4);
    insert("udp", kClient6, 50000, kServer6, 53, kWan1v6);
    insert("udp", kClient6, 50001, kServer6, 53, kWan2v6);
    // Incoming: 10.200.0.20 -> WAN 1 port 22, not NATed.
    insert("tcp", "10.200.0.20", 33000, kWan1v4, 22, "10.200.0.20");
    insert("tcp", "fd00:200::20", 33000, kWan1v6, 22, "fd00:200::20");
  }
};

TEST_F(ConntrackTest, DeletesOnlyEntriesNatedToTheGivenIpv4Address) {
  populate();
  auto before = by_reply_dst();
  ASSERT_EQ(before[kWan1v4], 4) << "setup: conntrack -L does not show the inserted entries";
  ASSERT_EQ(before[kWan2v4], 4);
  ASSERT_EQ(before[kWan1v6], 4);
  ASSERT_EQ(before[kWan2v6], 4);
  ASSERT_EQ(before["10.200.0.20"], 1);
  ASSERT_EQ(before["fd00:200::20"], 1);

  EXPECT_EQ(flush_conntrack_nated_to({ip(kWan1v4)}), 4u);

  auto after = by_reply_dst();
  EXPECT_EQ(after.count(kWan1v4), 0u);
  before.erase(kWan1v4);
  EXPECT_EQ(after, before) << "entries of other addresses changed";

  // Nothing left to delete: a second flush deletes nothing.
  EXPECT_EQ(flush_conntrack_nated_to({ip(kWan1v4)}), 0u);
}

TEST_F(ConntrackTest, DeletesOnlyEntriesNatedToTheGivenIpv6Address) {
  populate();
  auto before = by_reply_dst();
  ASSERT_EQ(before[kWan2v6], 4) << "setup: conntrack -L does not show the inserted entries";

  EXPECT_EQ(flush_conntrack_nated_to({ip(kWan2v6)}), 4u);

  auto after = by_reply_dst();
  EXPECT_EQ(after.count(kWan2v6), 0u);
  before.erase(kWan2v6);
  EXPECT_EQ(after, before) << "entries of other addresses changed";
}

TEST_F(ConntrackTest, DeletesEveryListedAddressOfBothFamilies) {
  populate();
  auto before = by_reply_dst();
  ASSERT_EQ(before[kWan1v4], 4) << "setup: conntrack -L does not show the inserted entries";

  EXPECT_EQ(flush_conntrack_nated_to({ip(kWan1v4), ip(kWan1v6)}), 8u);

  auto after = by_reply_dst();
  before.erase(kWan1v4);
  before.erase(kWan1v6);
  EXPECT_EQ(after, before);
}

TEST_F(ConntrackTest, EmptyListOrUnknownAddressDeletesNothing) {
  populate();
  auto before = by_reply_dst();
  ASSERT_EQ(before[kWan1v4], 4) << "setup: conntrack -L does not show the inserted entries";

  EXPECT_EQ(flush_conntrack_nated_to({}), 0u);
  EXPECT_EQ(flush_conntrack_nated_to({ip("10.100.9.2"), ip("fd00:100:9::2")}), 0u);
  // Same bytes as an IPv4 WAN address, other family: must not match.
  IpAddr v6_lookalike = ip(kWan1v4);
  v6_lookalike.family = AF_INET6;
  EXPECT_EQ(flush_conntrack_nated_to({v6_lookalike}), 0u);

  EXPECT_EQ(by_reply_dst(), before);
}

TEST_F(ConntrackTest, DeletesIcmpEntries) {
  // An un-NATed ping: its reply goes back to the client itself.
  ASSERT_EQ(sh(std::string("conntrack -I -p icmp -s ") + kClient4 + " -d " + kServer4 +
               " --icmp-type 8 --icmp-code 0 --icmp-id 77 --timeout 600 >/dev/null 2>&1"),
            0);
  insert("tcp", kClient4, 40000, kServer4, 80, kWan2v4);
  ASSERT_EQ(by_reply_dst()[kClient4], 1) << "setup: conntrack -L does not show the ping";

  EXPECT_EQ(flush_conntrack_nated_to({ip(kClient4)}), 1u);

  auto after = by_reply_dst();
  EXPECT_EQ(after.count(kClient4), 0u);
  EXPECT_EQ(after[kWan2v4], 1);
}

TEST_F(ConntrackTest, EmptyTableIsFine) {
  // Loads nothing: a fresh namespace may have no entries (or no conntrack
  // module loaded yet); either way nothing is deleted and nothing throws.
  EXPECT_EQ(flush_conntrack_nated_to({ip(kWan1v4), ip(kWan1v6)}), 0u);
}

}  // namespace
}  // namespace wanlb
