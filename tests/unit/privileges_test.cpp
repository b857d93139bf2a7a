// Tests of agent/privileges.cpp. The drop itself runs in a forked child, so
// this test process keeps its capabilities; the child reports through its
// exit status (0 ok, anything else: what failed, printed to stderr).
#include "privileges.h"

#include <gtest/gtest.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <string>
#include <thread>

namespace wanlb {
namespace {

// "CapEff" -> mask, "NoNewPrivs" -> 0/1, from a /proc status file.
std::map<std::string, uint64_t> status_caps(const std::string& path) {
  std::map<std::string, uint64_t> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    if (key.rfind("Cap", 0) == 0) out[key] = std::stoull(line.substr(colon + 1), nullptr, 16);
    if (key == "NoNewPrivs") out[key] = std::stoull(line.substr(colon + 1));
  }
  return out;
}

// Run `body` in a forked child; its return value is the exit status.
int in_child(const std::function<int()>& body) {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool has_setpcap() { return prctl(PR_CAPBSET_READ, CAP_SETPCAP, 0, 0, 0) == 1 && geteuid() == 0; }

const uint64_t kKept = (1ULL << CAP_NET_ADMIN) | (1ULL << CAP_NET_RAW);

// Every capability line of `path` is exactly the kept set (bounding too),
// nothing inheritable or ambient, no_new_privs set.
int check_status(const std::string& path, const char* who) {
  auto s = status_caps(path);
  int bad = 0;
  auto expect = [&](const char* key, uint64_t want) {
    if (s.count(key) && s[key] == want) return;
    std::fprintf(stderr, "%s: %s = %llx, want %llx\n", who, key, static_cast<unsigned long long>(s[key]),
                 static_cast<unsigned long long>(want));
    bad = 1;
  };
  expect("CapEff", kKept);
  expect("CapPrm", kKept);
  expect("CapBnd", kKept);
  expect("CapInh", 0);
  expect("CapAmb", 0);
  expect("NoNewPrivs", 1);
  return bad;
}

TEST(Privileges, NamesOfAMask) {
  EXPECT_EQ(capability_names(0), "none");
  EXPECT_EQ(capability_names(kKept), "CAP_NET_ADMIN, CAP_NET_RAW");
  EXPECT_EQ(capability_names(capability_mask({CAP_BPF, CAP_SYS_ADMIN, CAP_NET_ADMIN})),
            "CAP_NET_ADMIN, CAP_SYS_ADMIN, CAP_BPF");
  EXPECT_EQ(capability_mask({CAP_NET_ADMIN, CAP_NET_RAW}), 0x3000u);
}

TEST(Privileges, RuntimeSetIsNetAdminAndNetRawPlusBpfOnlyWhereNeeded) {
  std::string why;
  auto keep = runtime_capabilities(&why);
  uint64_t m = capability_mask(keep);
  EXPECT_EQ(m & ~(1ULL << CAP_BPF), kKept);
  EXPECT_EQ((m & (1ULL << CAP_BPF)) != 0, !why.empty());
  EXPECT_EQ((m & (1ULL << CAP_BPF)) != 0, bpf_fd_commands_need_capability());
  EXPECT_EQ(m & ((1ULL << CAP_SYS_ADMIN) | (1ULL << CAP_PERFMON)), 0u);
}

TEST(Privileges, DropKeepsExactlyNetAdminAndNetRaw) {
  if (!has_setpcap()) GTEST_SKIP() << "needs root with CAP_SETPCAP";
  int rc = in_child([] {
    CapDropResult r = drop_capabilities({CAP_NET_ADMIN, CAP_NET_RAW});
    if (!r.dropped || r.kept != kKept || !r.bounding_cut) return 10;
    if (capability_summary() != "CAP_NET_ADMIN, CAP_NET_RAW") return 11;
    return check_status("/proc/self/status", "process");
  });
  EXPECT_EQ(rc, 0);
}

TEST(Privileges, DropReachesThreadsStartedBefore) {
  if (!has_setpcap()) GTEST_SKIP() << "needs root with CAP_SETPCAP";
  int rc = in_child([] {
    std::atomic<bool> stop{false};
    std::atomic<long> tid{0};
    std::thread worker([&] {
      tid = syscall(SYS_gettid);
      while (!stop) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    });
    while (tid == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    int bad = 0;
    try {
      CapDropResult r = drop_capabilities({CAP_NET_ADMIN, CAP_NET_RAW});
      if (!r.dropped || r.threads != 2) bad = 20;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "drop: %s\n", e.what());
      bad = 21;
    }
    if (!bad) bad = check_status("/proc/self/task/" + std::to_string(tid.load()) + "/status", "worker thread");
    if (!bad) bad = check_status("/proc/thread-self/status", "main thread");
    // A thread started after the drop inherits the reduced sets.
    std::thread later([&] {
      if (!bad) bad = check_status("/proc/thread-self/status", "thread started later");
    });
    later.join();
    stop = true;
    worker.join();
    return bad;
  });
  EXPECT_EQ(rc, 0);
}

TEST(Privileges, WithoutSetpcapTheBoundingSetStaysAndNoNewPrivsIsSet) {
  if (!has_setpcap()) GTEST_SKIP() << "needs root with CAP_SETPCAP";
  int rc = in_child([] {
    // As under a unit whose bounding set lacks CAP_SETPCAP.
    if (prctl(PR_CAPBSET_DROP, CAP_SETPCAP, 0, 0, 0) != 0) return 30;
    cap_t c = cap_get_proc();
    cap_value_t v = CAP_SETPCAP;
    cap_set_flag(c, CAP_PERMITTED, 1, &v, CAP_CLEAR);
    cap_set_flag(c, CAP_EFFECTIVE, 1, &v, CAP_CLEAR);
    if (cap_set_proc(c) != 0) return 31;
    cap_free(c);
    uint64_t bnd_before = status_caps("/proc/self/status")["CapBnd"];
    CapDropResult r = drop_capabilities({CAP_NET_ADMIN, CAP_NET_RAW});
    if (!r.dropped || r.bounding_cut) return 32;
    auto s = status_caps("/proc/self/status");
    if (s["CapEff"] != kKept || s["CapPrm"] != kKept || s["CapBnd"] != bnd_before || s["NoNewPrivs"] != 1) return 33;
    // no_new_privs: an exec of a uid-0 program gets no more than kKept.
    pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/grep", "grep", "-q", "^CapEff:[[:space:]]*0000000000003000$", "/proc/self/status", nullptr);
      _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 34;
  });
  EXPECT_EQ(rc, 0);
}

TEST(Privileges, NothingToDropIsANoOp) {
  if (!has_setpcap()) GTEST_SKIP() << "needs root with CAP_SETPCAP";
  int rc = in_child([] {
    if (!drop_capabilities({CAP_NET_ADMIN, CAP_NET_RAW}).dropped) return 40;
    CapDropResult again = drop_capabilities({CAP_NET_ADMIN, CAP_NET_RAW});
    return again.dropped || again.kept != kKept ? 41 : 0;
  });
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace wanlb
