// HookRunner: environment passing, failures, missing commands, timeouts,
// non-blocking run() and clean-up in the destructor. No privileges needed:
// the hook scripts live in a temporary directory.
#include "hooks.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

namespace wanlb {
namespace {

uint64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A process that no longer exists, or only as a zombie (killed, not yet
// reaped by whoever inherited it).
bool pid_gone(int pid) {
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close_paren = stat.rfind(')');
  return close_paren != std::string::npos && close_paren + 2 < stat.size() && stat[close_paren + 2] == 'Z';
}

// Poll `cond` every 10 ms for at most `limit_ms`; returns whether it held.
template <typename F>
bool wait_until(F cond, uint64_t limit_ms) {
  uint64_t end = now_ms() + limit_ms;
  while (!cond()) {
    if (now_ms() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Reap until nothing runs (bounded); returns whether everything finished.
bool reap_all(HookRunner& h, uint64_t limit_ms = 5000) {
  return wait_until(
      [&] {
        h.reap(now_ms());
        return h.running() == 0;
      },
      limit_ms);
}

class HookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wanlb-hooks-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    // Capture what HookRunner logs.
    saved_logger_ = spdlog::default_logger();
    ring_ = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
    auto logger = std::make_shared<spdlog::logger>("hooks_test", ring_);
    logger->set_level(spdlog::level::debug);
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(logger);
  }
  void TearDown() override {
    spdlog::set_default_logger(saved_logger_);
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  // Write an executable script into the temporary directory.
  std::string script(const std::string& name, const std::string& body) {
    std::string path = dir_ + "/" + name;
    {
      std::ofstream f(path);
      f << "#!/bin/sh\n" << body << "\n";
    }
    EXPECT_EQ(::chmod(path.c_str(), 0755), 0);
    return path;
  }

  std::string logged() const {
    std::string all;
    for (const auto& line : ring_->last_formatted()) all += line;
    return all;
  }

  std::string dir_;
  std::shared_ptr<spdlog::logger> saved_logger_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> ring_;
};

TEST_F(HookTest, PassesVariablesOnTopOfTheAgentEnvironment) {
  std::string out = dir_ + "/env.out";
  std::string path = script("env.sh", "env > \"$OUT\"\nreadlink /proc/self/fd/0 > \"$OUT.stdin\"");
  ::setenv("WANLB_TEST_INHERITED", "from-agent", 1);
  ::setenv("WANLB_WAN", "stale-value", 1);  // overridden by run()'s variable
  {
    HookRunner h(path);
    h.run({{"WANLB_WAN", "isp1"},
           {"WANLB_OLD_STATE", "up"},
           {"WANLB_NEW_STATE", "down"},
           {"WANLB_REASON", "3 probes lost in a row"},
           {"WANLB_INTERFACE", "eth1"},
           {"OUT", out}});
    EXPECT_EQ(h.running(), 1u);
    ASSERT_TRUE(reap_all(h)) << "hook did not finish";
  }
  ::unsetenv("WANLB_TEST_INHERITED");
  ::unsetenv("WANLB_WAN");

  std::string env = "\n" + read_file(out);
  EXPECT_NE(env.find("\nWANLB_WAN=isp1\n"), std::string::npos) << env;
  EXPECT_EQ(env.find("WANLB_WAN=stale-value"), std::string::npos) << env;
  EXPECT_EQ(env.find("\nWANLB_WAN="), env.rfind("\nWANLB_WAN=")) << "WANLB_WAN twice:" << env;
  EXPECT_NE(env.find("\nWANLB_OLD_STATE=up\n"), std::string::npos) << env;
  EXPECT_NE(env.find("\nWANLB_NEW_STATE=down\n"), std::string::npos) << env;
  EXPECT_NE(env.find("\nWANLB_REASON=3 probes lost in a row\n"), std::string::npos) << env;
  EXPECT_NE(env.find("\nWANLB_INTERFACE=eth1\n"), std::string::npos) << env;
  EXPECT_NE(env.find("\nWANLB_TEST_INHERITED=from-agent\n"), std::string::npos) << env;
  EXPECT_EQ(read_file(out + ".stdin"), "/dev/null\n");
  EXPECT_EQ(logged().find("warning"), std::string::npos) << logged();
}

TEST_F(HookTest, FailingHookIsReapedAndLogged) {
  std::string path = script("fail.sh", "exit 3");
  HookRunner h(path);
  EXPECT_NO_THROW(h.run({{"WANLB_WAN", "isp1"}, {"WANLB_OLD_STATE", "up"}, {"WANLB_NEW_STATE", "down"}}));
  ASSERT_TRUE(reap_all(h)) << "hook did not finish";
  EXPECT_NE(logged().find("warning hook " + path + " for isp1 up->down exited with 3"), std::string::npos)
      << logged();
}

TEST_F(HookTest, MissingCommandDoesNotThrow) {
  HookRunner h(dir_ + "/does-not-exist");
  uint64_t t0 = now_ms();
  EXPECT_NO_THROW(h.run({{"WANLB_WAN", "isp1"}}));
  EXPECT_LT(now_ms() - t0, 1000u);
  EXPECT_EQ(h.running(), 0u);
  EXPECT_NO_THROW(h.reap(now_ms()));
  EXPECT_NE(logged().find("warning"), std::string::npos) << logged();
  EXPECT_NE(logged().find("No such file or directory"), std::string::npos) << logged();
}

TEST_F(HookTest, EmptyCommandIsANoOp) {
  HookRunner h("");
  h.run({{"WANLB_WAN", "isp1"}});
  EXPECT_EQ(h.running(), 0u);
  h.reap(now_ms());
  EXPECT_TRUE(logged().empty()) << logged();
}

TEST_F(HookTest, SlowHookIsKilledAfterTimeout) {
  std::string path = script("slow.sh", "sleep 30");
  HookRunner h(path, 200);
  uint64_t t0 = now_ms();
  h.run({{"WANLB_WAN", "isp2"}, {"WANLB_OLD_STATE", "down"}, {"WANLB_NEW_STATE", "up"}});
  ASSERT_EQ(h.running(), 1u);
  ASSERT_TRUE(reap_all(h, 10000)) << "hook was not killed";
  uint64_t took = now_ms() - t0;
  EXPECT_GE(took, 200u);
  EXPECT_LT(took, 10000u);
  EXPECT_NE(logged().find("hook " + path + " for isp2 down->up still running after 200 ms; killed"),
            std::string::npos)
      << logged();
}

TEST_F(HookTest, RunDoesNotBlockWhileAHookRuns) {
  std::string path = script("slow.sh", "sleep 3");
  HookRunner h(path, 60000);
  uint64_t t0 = now_ms();
  h.run({{"WANLB_WAN", "isp1"}});
  h.run({{"WANLB_WAN", "isp2"}});
  uint64_t took = now_ms() - t0;
  EXPECT_LT(took, 1000u) << "run() waited for the hook";
  EXPECT_EQ(h.running(), 2u);
  h.reap(now_ms());
  EXPECT_EQ(h.running(), 2u);  // still sleeping, not past the timeout
}

TEST_F(HookTest, DestructorKillsRunningHooks) {
  std::string pidfile = dir_ + "/pids";
  // The shell and the sleep it starts: both must go (the hook's process group).
  std::string path = script("hang.sh", "sleep 30 &\necho $$ $! > \"$PIDS.tmp\"\nmv \"$PIDS.tmp\" \"$PIDS\"\nwait");
  int shell_pid = 0, sleep_pid = 0;
  {
    HookRunner h(path);
    h.run({{"PIDS", pidfile}});
    ASSERT_EQ(h.running(), 1u);
    ASSERT_TRUE(wait_until([&] { return !read_file(pidfile).empty(); }, 5000)) << "hook did not start";
    std::istringstream in(read_file(pidfile));
    in >> shell_pid >> sleep_pid;
    ASSERT_GT(shell_pid, 0);
    ASSERT_GT(sleep_pid, 0);
    EXPECT_FALSE(pid_gone(shell_pid));
    EXPECT_FALSE(pid_gone(sleep_pid));
  }
  EXPECT_TRUE(pid_gone(shell_pid)) << "hook pid " << shell_pid << " still there";
  // The sleep was our grandchild: whoever inherits it reaps it, so allow time.
  EXPECT_TRUE(wait_until([&] { return pid_gone(sleep_pid); }, 5000)) << "sleep pid " << sleep_pid << " still there";
}

}  // namespace
}  // namespace wanlb
