// State file: round trip, first old value wins, missing and corrupt files.
// No privileges needed: everything lives in a temporary directory.
#include "state_store.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace wanlb {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wanlb-state-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }
  std::string dir_;
};

AppliedState sample() {
  AppliedState st;
  st.sysctls.push_back({"net/ipv4/ip_forward", "0", "1"});
  st.sysctls.push_back({"net/ipv4/conf/eth0.10/rp_filter", "1", "2"});
  st.clsact_created = {"lan0"};
  st.lan = {"lan0", "lan1"};
  st.bpffs_dir = "/sys/fs/bpf/wanlb";
  return st;
}

void expect_same(const AppliedState& a, const AppliedState& b) {
  ASSERT_EQ(a.sysctls.size(), b.sysctls.size());
  for (size_t i = 0; i < a.sysctls.size(); ++i) {
    EXPECT_EQ(a.sysctls[i].key, b.sysctls[i].key);
    EXPECT_EQ(a.sysctls[i].old_value, b.sysctls[i].old_value);
    EXPECT_EQ(a.sysctls[i].new_value, b.sysctls[i].new_value);
  }
  EXPECT_EQ(a.clsact_created, b.clsact_created);
  EXPECT_EQ(a.lan, b.lan);
  EXPECT_EQ(a.bpffs_dir, b.bpffs_dir);
}

TEST_F(StateStoreTest, RoundTripCreatesPrivateDirectories) {
  std::string path = state_path(dir_ + "/run/wanlb");
  save_state(path, sample());
  expect_same(load_state(path), sample());

  struct stat sb {};
  ASSERT_EQ(stat((dir_ + "/run/wanlb").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0700u);
  // Overwrite leaves no temporary files behind.
  save_state(path, AppliedState{});
  expect_same(load_state(path), AppliedState{});
  std::string listing;
  FILE* p = popen(("ls -A '" + dir_ + "/run/wanlb'").c_str(), "r");
  char buf[512];
  while (p && fgets(buf, sizeof buf, p)) listing += buf;
  if (p) pclose(p);
  EXPECT_EQ(listing, path.substr(path.rfind('/') + 1) + "\n");
}

TEST_F(StateStoreTest, PathNamesTheNetworkNamespace) {
  // Named by the netns cookie, which the kernel never reuses while up.
  int sock = socket(AF_UNIX, SOCK_DGRAM, 0);
  ASSERT_GE(sock, 0);
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  ASSERT_EQ(getsockopt(sock, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len), 0);
  close(sock);
  EXPECT_EQ(state_path("/x"), "/x/netns-" + std::to_string(cookie) + ".json");
  EXPECT_EQ(state_path().rfind("/run/wanlb/netns-", 0), 0u);
}

TEST_F(StateStoreTest, FirstOldValueWins) {
  AppliedState st;
  record_sysctl(&st, {"net/ipv4/ip_forward", "0", "1"});
  // After a restart wanlb reads its own value as "old": it must not stick.
  record_sysctl(&st, {"net/ipv4/ip_forward", "1", "1"});
  record_sysctl(&st, {"net/ipv4/conf/wan1/rp_filter", "1", "2"});
  ASSERT_EQ(st.sysctls.size(), 2u);
  EXPECT_EQ(st.sysctls[0].old_value, "0");
  EXPECT_EQ(st.sysctls[1].key, "net/ipv4/conf/wan1/rp_filter");
}

TEST_F(StateStoreTest, MissingFileIsEmptyState) {
  AppliedState st = load_state(dir_ + "/nope/netns-1.json");
  EXPECT_TRUE(st.sysctls.empty());
  EXPECT_TRUE(st.clsact_created.empty());
  EXPECT_TRUE(st.lan.empty());
  EXPECT_TRUE(st.bpffs_dir.empty());
}

TEST_F(StateStoreTest, CorruptFileIsAnErrorNamingIt) {
  for (const char* text : {"{\"sysctls\": [", "[1,2]", "{\"sysctls\": [{\"key\": 5}]}"}) {
    std::string path = dir_ + "/bad.json";
    std::ofstream(path) << text;
    try {
      load_state(path);
      ADD_FAILURE() << "no error for " << text;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    }
  }
}

TEST_F(StateStoreTest, RemoveIsQuietWhenAlreadyGone) {
  std::string path = dir_ + "/s.json";
  save_state(path, sample());
  remove_state(path);
  EXPECT_EQ(access(path.c_str(), F_OK), -1);
  EXPECT_NO_THROW(remove_state(path));
}

}  // namespace
}  // namespace wanlb

namespace {

// A process named "wanlb" counts as a running agent while it lives, and not
// once it is dead but unreaped (a zombie), which cleanup must not wait for.
TEST(AgentAlive, LiveAgentYesZombieNo) {
  int go[2];
  ASSERT_EQ(pipe(go), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    prctl(PR_SET_NAME, "wanlb");
    char c;
    (void)!read(go[0], &c, 1);  // wait until the parent has looked
    _exit(0);
  }
  // Wait until the child has renamed itself.
  for (int i = 0; i < 200 && !wanlb::agent_alive(pid); i++) usleep(10000);
  EXPECT_TRUE(wanlb::agent_alive(pid));
  (void)!write(go[1], "x", 1);
  // The child exits and stays a zombie until waitpid below.
  for (int i = 0; i < 200 && wanlb::agent_alive(pid); i++) usleep(10000);
  EXPECT_FALSE(wanlb::agent_alive(pid)) << "a zombie counted as a running agent";
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_FALSE(wanlb::agent_alive(pid));
  EXPECT_FALSE(wanlb::agent_alive(0));
  close(go[0]);
  close(go[1]);
}

}  // namespace
