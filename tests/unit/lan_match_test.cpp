#include <gtest/gtest.h>

#include "lan_match.h"

namespace wanlb {
namespace {

TEST(LanMatch, PatternsAreRecognised) {
  EXPECT_TRUE(is_interface_pattern("lxc*"));
  EXPECT_TRUE(is_interface_pattern("veth?"));
  EXPECT_TRUE(is_interface_pattern("eth[01]"));
  EXPECT_FALSE(is_interface_pattern("cni0"));
  EXPECT_FALSE(is_interface_pattern("eth0.100"));
}

TEST(LanMatch, LiteralsAndPatternsSelectInterfaces) {
  std::vector<std::string> present = {"lo", "eth0", "eth1", "cni0", "lxc12ab", "lxc_health", "vethab", "cali9"};
  EXPECT_EQ(match_lan_interfaces({"cni0"}, present), (std::vector<std::string>{"cni0"}));
  EXPECT_EQ(match_lan_interfaces({"lxc*"}, present), (std::vector<std::string>{"lxc12ab", "lxc_health"}));
  EXPECT_EQ(match_lan_interfaces({"cali*", "veth*", "lxc1*"}, present),
            (std::vector<std::string>{"lxc12ab", "vethab", "cali9"}));
  EXPECT_TRUE(match_lan_interfaces({"wl*"}, present).empty());
  EXPECT_TRUE(match_lan_interfaces({"eth"}, present).empty()) << "a literal never matches a prefix";
}

TEST(LanMatch, EachInterfaceOnce) {
  EXPECT_EQ(match_lan_interfaces({"eth*", "eth0"}, {"eth0"}), (std::vector<std::string>{"eth0"}));
}

}  // namespace
}  // namespace wanlb
