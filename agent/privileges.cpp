// Least privilege after set-up. See privileges.h.
//
// libcap names and counts the capabilities; the changes themselves are raw
// capget/capset/prctl system calls, because they must also run inside a
// signal handler on every other thread (a capability set belongs to a
// thread, not to the process: the metrics server's threads, started before
// the drop, would otherwise keep everything). That is what glibc does for
// setuid() and libpsx for capabilities; libpsx needs every pthread_create
// wrapped at link time, which std::thread inside libstdc++ and cpp-httplib
// escapes, so the broadcast is done here: signal each thread of
// /proc/self/task, then check its /proc status until every thread shows the
// same sets as the main thread.
#include "privileges.h"

#include <dirent.h>
#include <linux/bpf.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>
#include <thread>

namespace wanlb {

namespace {

// The capget/capset ABI (version 3: two 32-bit words per set). Declared
// here rather than taken from <linux/capability.h>, which clashes with
// libcap's <sys/capability.h>.
struct RawCapHeader {
  uint32_t version;
  int pid;
};
struct RawCapData {
  uint32_t effective, permitted, inheritable;
};
constexpr uint32_t kCapVersion3 = 0x20080522;

struct RawCaps {
  uint64_t eff = 0, prm = 0, inh = 0;
};

// Async-signal-safe: plain system calls only.
int raw_capget(RawCaps* out) {
  RawCapHeader h{kCapVersion3, 0};
  RawCapData d[2] = {};
  if (syscall(SYS_capget, &h, d) != 0) return errno;
  out->eff = d[0].effective | (static_cast<uint64_t>(d[1].effective) << 32);
  out->prm = d[0].permitted | (static_cast<uint64_t>(d[1].permitted) << 32);
  out->inh = d[0].inheritable | (static_cast<uint64_t>(d[1].inheritable) << 32);
  return 0;
}

int raw_capset(const RawCaps& c) {
  RawCapHeader h{kCapVersion3, 0};
  RawCapData d[2] = {};
  d[0] = {static_cast<uint32_t>(c.eff), static_cast<uint32_t>(c.prm), static_cast<uint32_t>(c.inh)};
  d[1] = {static_cast<uint32_t>(c.eff >> 32), static_cast<uint32_t>(c.prm >> 32), static_cast<uint32_t>(c.inh >> 32)};
  return syscall(SYS_capset, &h, d) == 0 ? 0 : errno;
}

constexpr uint64_t bit(int cap) { return 1ULL << cap; }

// What every thread is to end up with; written before any thread is
// signalled, read by the handler.
struct Target {
  uint64_t keep = 0;        // effective = permitted = keep (within what the thread has)
  bool cut_bounding = false;
  int max_bits = 0;         // capabilities this kernel knows
};
Target g_target;
std::atomic<int> g_handler_errno{0};

// Apply g_target to the calling thread. Async-signal-safe.
int apply_to_this_thread() {
  RawCaps now;
  if (int e = raw_capget(&now)) return e;
  if (g_target.cut_bounding) {
    // PR_CAPBSET_DROP needs CAP_SETPCAP in the effective set.
    if (!(now.eff & bit(CAP_SETPCAP)) && (now.prm & bit(CAP_SETPCAP))) {
      RawCaps raise = now;
      raise.eff |= bit(CAP_SETPCAP);
      if (int e = raw_capset(raise)) return e;
    }
    for (int c = 0; c < g_target.max_bits; c++) {
      if (g_target.keep & bit(c)) continue;
      if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) != 1) continue;
      if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0) return errno;
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) return errno;
  // Without this, an execve (a hook) by uid 0 would get the whole bounding
  // set back wherever it could not be cut.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  RawCaps next;
  next.prm = g_target.keep & now.prm;
  next.eff = next.prm;
  next.inh = 0;
  return raw_capset(next);
}

void on_drop_signal(int) {
  int saved = errno;
  if (int e = apply_to_this_thread()) g_handler_errno.store(e);
  errno = saved;
}

// The capability and no_new_privs lines of /proc/<path>/status.
std::map<std::string, std::string> cap_lines(const std::string& status_path) {
  std::map<std::string, std::string> out;
  std::ifstream in(status_path);
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    if (key.rfind("Cap", 0) != 0 && key != "NoNewPrivs") continue;
    size_t v = line.find_first_not_of(" \t", colon + 1);
    out[key] = v == std::string::npos ? "" : line.substr(v);
  }
  return out;
}

std::vector<pid_t> thread_ids() {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc/self/task");
  if (!d) return out;
  while (dirent* e = readdir(d))
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9') out.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
  closedir(d);
  return out;
}

std::string cap_name(int cap) {
  char* n = cap_to_name(static_cast<cap_value_t>(cap));
  std::string s = n ? n : ("cap_" + std::to_string(cap));
  if (n) cap_free(n);
  for (auto& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return s;
}

int known_caps() {
  int n = static_cast<int>(cap_max_bits());
  return n > 0 && n <= 64 ? n : 64;
}

// Kernel release "6.1.0-18-amd64" -> 601.
int kernel_version() {
  utsname u{};
  if (uname(&u) != 0) return 0;
  int major = 0, minor = 0;
  if (std::sscanf(u.release, "%d.%d", &major, &minor) != 2) return 0;
  return major * 100 + minor;
}

}  // namespace

uint64_t capability_mask(const std::vector<int>& caps) {
  uint64_t m = 0;
  for (int c : caps)
    if (c >= 0 && c < 64) m |= bit(c);
  return m;
}

std::string capability_names(uint64_t mask) {
  std::string out;
  for (int c = 0; c < 64; c++)
    if (mask & bit(c)) out += (out.empty() ? "" : ", ") + cap_name(c);
  return out.empty() ? "none" : out;
}

std::string capability_summary() {
  RawCaps now;
  if (raw_capget(&now) != 0) return "unknown";
  return capability_names(now.eff);
}

bool bpf_fd_commands_need_capability() {
  // Kernels before 6.5 check "unprivileged_bpf_disabled && !bpf_capable()"
  // at the top of the bpf() syscall, for every command; 6.5 moved it into
  // BPF_MAP_CREATE and BPF_PROG_LOAD. Ask the kernel: a child without
  // CAP_BPF and CAP_SYS_ADMIN looks up an element in fd -1: EPERM means the
  // gate, EBADF means the command got as far as the fd.
  bool refused = false;
  pid_t pid = fork();
  if (pid == 0) {
    RawCaps c;
    if (raw_capget(&c) != 0) _exit(3);
    c.eff &= ~(bit(CAP_BPF) | bit(CAP_SYS_ADMIN));
    if (raw_capset(c) != 0) _exit(3);
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.map_fd = static_cast<uint32_t>(-1);
    long r = syscall(SYS_bpf, BPF_MAP_LOOKUP_ELEM, &attr, sizeof(attr));
    _exit(r != 0 && errno == EPERM ? 1 : 0);
  }
  if (pid > 0) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    refused = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  } else {
    refused = true;  // cannot tell: keep CAP_BPF
  }
  if (refused) return true;
  // Allowed now. Before 6.5 that only means the sysctl is 0 at the moment;
  // root can set it later, and then the agent could no longer read its maps.
  return kernel_version() < 605;
}

std::vector<int> runtime_capabilities(std::string* why) {
  std::vector<int> keep = {CAP_NET_ADMIN, CAP_NET_RAW};
  if (bpf_fd_commands_need_capability()) {
    keep.push_back(CAP_BPF);
    if (why)
      *why = "this kernel (before 6.5) checks CAP_BPF on every bpf() call, map reads and writes included, "
             "while kernel.unprivileged_bpf_disabled is set";
  }
  return keep;
}

CapDropResult drop_capabilities(const std::vector<int>& keep) {
  CapDropResult res;
  RawCaps now;
  if (int e = raw_capget(&now)) throw std::runtime_error(std::string("capget: ") + std::strerror(e));
  uint64_t want = capability_mask(keep);
  res.kept = now.prm & want;
  if ((now.prm & ~want) == 0 && now.inh == 0) return res;  // nothing we could drop

  g_target.keep = want;
  g_target.cut_bounding = (now.prm & bit(CAP_SETPCAP)) != 0;
  g_target.max_bits = known_caps();
  res.bounding_cut = g_target.cut_bounding;

  // The other threads first learn how, then this one changes.
  struct sigaction sa {};
  sa.sa_handler = on_drop_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  const int sig = SIGRTMIN + 6;
  // The handler stays installed: a late duplicate signal only re-applies
  // the same sets, where the default action would kill the process.
  if (sigaction(sig, &sa, nullptr) != 0)
    throw std::runtime_error(std::string("sigaction: ") + std::strerror(errno));
  if (int e = apply_to_this_thread())
    throw std::runtime_error(std::string("dropping capabilities: ") + std::strerror(e));

  const pid_t self = static_cast<pid_t>(syscall(SYS_gettid));
  const auto mine = cap_lines("/proc/thread-self/status");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (;;) {
    std::vector<pid_t> behind;
    std::vector<pid_t> all = thread_ids();
    for (pid_t tid : all) {
      if (tid == self) continue;
      auto theirs = cap_lines("/proc/self/task/" + std::to_string(tid) + "/status");
      if (!theirs.empty() && theirs != mine) behind.push_back(tid);  // empty: the thread has exited
    }
    if (int e = g_handler_errno.load())
      throw std::runtime_error(std::string("dropping capabilities in another thread: ") + std::strerror(e));
    if (behind.empty()) {
      res.threads = static_cast<int>(all.size());
      break;
    }
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("thread " + std::to_string(behind.front()) +
                               " did not drop its capabilities within 1 s (signal blocked?)");
    for (pid_t tid : behind) syscall(SYS_tgkill, getpid(), tid, sig);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  res.dropped = true;
  return res;
}

void drop_privileges_after_setup() {
  std::string why;
  std::vector<int> keep = runtime_capabilities(&why);
  CapDropResult r = drop_capabilities(keep);
  if (!r.dropped) {
    spdlog::debug("capabilities: nothing to drop (effective: {})", capability_summary());
    return;
  }
  spdlog::info("dropped capabilities: kept {}", capability_names(r.kept));
  if (!why.empty() && (r.kept & bit(CAP_BPF))) spdlog::info("kept CAP_BPF: {}", why);
  if (!r.bounding_cut)
    spdlog::info("capability bounding set left as it was (no CAP_SETPCAP); no_new_privs is set, so programs the "
                 "agent starts cannot regain what was dropped");
}

}  // namespace wanlb
