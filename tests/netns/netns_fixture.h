// PrivateNetnsTest: a gtest fixture that runs each test in a fresh, private
// network namespace, so tests can add links, rules, routes and net sysctls
// without touching the host's own namespace.
//
// SetUp remembers the current namespace (an fd to /proc/thread-self/ns/net),
// unshare(CLONE_NEWNET)s this thread into a new empty one and brings `lo` up;
// TearDown setns()es back. The private namespace vanishes once nothing
// refers to it (close every netlink socket opened inside before TearDown,
// i.e. keep them test-local). Commands run with sh()/sh_out() are forked from
// this thread and so run inside the private namespace too.
//
// Skips (GTEST_SKIP) when not root or when the kernel refuses unshare.
// Only use private-range addresses (10/8, 192.168/16, fd00::/8) in tests.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

namespace wanlb_test {

// Run a shell command; returns its exit status (or -1).
inline int sh(const std::string& cmd) {
  int st = std::system(cmd.c_str());
  return (st != -1 && WIFEXITED(st)) ? WEXITSTATUS(st) : -1;
}

// Run a shell command and return its standard output.
inline std::string sh_out(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

// Inode of this thread's network namespace (0 on error).
inline ino_t current_netns_inode() {
  struct stat sb {};
  return ::stat("/proc/thread-self/ns/net", &sb) == 0 ? sb.st_ino : 0;
}

class PrivateNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates a private network namespace";
    // /proc/thread-self: namespaces are per thread, and unshare() moves only this one.
    outer_fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (outer_fd_ < 0) GTEST_SKIP() << "cannot open /proc/thread-self/ns/net: " << std::strerror(errno);
    ino_t outer = current_netns_inode();
    if (::unshare(CLONE_NEWNET) != 0) {
      int err = errno;
      ::close(outer_fd_);
      outer_fd_ = -1;
      GTEST_SKIP() << "unshare(CLONE_NEWNET) failed: " << std::strerror(err);
    }
    // Never let a test run against the outer namespace by mistake.
    ASSERT_NE(current_netns_inode(), outer) << "unshare did not give a new network namespace";
    ASSERT_EQ(sh("ip link set lo up"), 0);
  }

  void TearDown() override {
    if (outer_fd_ < 0) return;
    if (::setns(outer_fd_, CLONE_NEWNET) != 0) {
      // Carrying on would run later tests in the wrong namespace.
      std::fprintf(stderr, "FATAL: setns back to the outer network namespace failed: %s\n", std::strerror(errno));
      std::abort();
    }
    ::close(outer_fd_);
    outer_fd_ = -1;
  }

 private:
  int outer_fd_ = -1;
};

}  // namespace wanlb_test
