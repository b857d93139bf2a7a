// State-change hooks. See hooks.h.
//
// The command is started with posix_spawn (no shell, so no quoting issues
// with WAN names or reasons), argv = {command}, and the agent's environment
// plus the change's variables. The child gets:
//   - stdin from /dev/null, so it can never read the agent's input;
//   - an empty signal mask and default signal dispositions, so a hook does
//     not inherit signals the agent blocks (e.g. for a signalfd) or ignores;
//   - its own process group, so a timeout kills the hook together with
//     whatever it started (a `sleep` in a shell script would otherwise
//     outlive the killed shell).
// stdout/stderr are inherited: what a hook prints lands in the agent's log
// (journald under systemd).
//
// Start times are CLOCK_MONOTONIC milliseconds; reap(now_ms) must be given
// the same clock.
#include "hooks.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <utility>

extern char** environ;

namespace wanlb {

namespace {

uint64_t monotonic_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000u + static_cast<uint64_t>(ts.tv_nsec) / 1000000u;
}

// "hook /x for isp1 up->down", from whatever of the variables are present.
std::string describe(const std::string& command, const std::map<std::string, std::string>& env) {
  std::string s = "hook " + command;
  auto get = [&](const char* k) -> std::string {
    auto it = env.find(k);
    return it == env.end() ? std::string() : it->second;
  };
  std::string wan = get("WANLB_WAN"), from = get("WANLB_OLD_STATE"), to = get("WANLB_NEW_STATE");
  if (!wan.empty()) s += " for " + wan;
  if (!from.empty() || !to.empty()) s += " " + (from.empty() ? std::string("?") : from) + "->" + (to.empty() ? std::string("?") : to);
  return s;
}

// The agent's environment with `extra` added, overriding variables of the
// same name.
std::vector<std::string> build_env(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    const char* eq = std::strchr(*e, '=');
    std::string name = eq ? std::string(*e, static_cast<size_t>(eq - *e)) : std::string(*e);
    if (extra.count(name)) continue;
    out.emplace_back(*e);
  }
  for (const auto& [k, v] : extra) out.push_back(k + "=" + v);
  return out;
}

// RAII for the posix_spawn attribute objects.
struct FileActions {
  posix_spawn_file_actions_t fa;
  int err;
  FileActions() { err = posix_spawn_file_actions_init(&fa); }
  ~FileActions() {
    if (err == 0) posix_spawn_file_actions_destroy(&fa);
  }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
};
struct SpawnAttr {
  posix_spawnattr_t attr;
  int err;
  SpawnAttr() { err = posix_spawnattr_init(&attr); }
  ~SpawnAttr() {
    if (err == 0) posix_spawnattr_destroy(&attr);
  }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
};

// Kill the hook's process group (and the hook itself, should it have left
// the group), then wait for it. Only called for a child not yet reaped, so
// its pid (= its process group id) cannot have been reused.
int kill_and_wait(int pid) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return status;
}

void log_exit(const std::string& what, int status, uint64_t ran_ms) {
  if (WIFEXITED(status)) {
    int code = WEXITSTATUS(status);
    if (code == 0)
      spdlog::debug("{} finished ({} ms)", what, ran_ms);
    else
      spdlog::warn("{} exited with {}", what, code);
  } else if (WIFSIGNALED(status)) {
    spdlog::warn("{} killed by signal {} ({})", what, WTERMSIG(status), strsignal(WTERMSIG(status)));
  } else {
    spdlog::warn("{} ended with wait status {:#x}", what, status);
  }
}

}  // namespace

HookRunner::HookRunner(std::string command, uint32_t timeout_ms)
    : command_(std::move(command)), timeout_ms_(timeout_ms) {}

HookRunner::~HookRunner() {
  for (const Child& c : children_) {
    int status = kill_and_wait(c.pid);
    if (status < 0) continue;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      spdlog::warn("{} still running at shutdown; killed", c.what);
    else
      log_exit(c.what, status, 0);  // had ended on its own, not yet reaped
  }
  children_.clear();
}

void HookRunner::run(const std::map<std::string, std::string>& env) {
  if (command_.empty()) return;
  std::string what = describe(command_, env);

  std::vector<std::string> env_strings = build_env(env);
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string arg0 = command_;
  char* argv[] = {arg0.data(), nullptr};

  FileActions fa;
  SpawnAttr sa;
  int err = fa.err ? fa.err : sa.err;
  if (err == 0) err = posix_spawn_file_actions_addopen(&fa.fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  if (err == 0) err = posix_spawnattr_setsigmask(&sa.attr, &empty);
  if (err == 0) err = posix_spawnattr_setsigdefault(&sa.attr, &all);
  if (err == 0) err = posix_spawnattr_setpgroup(&sa.attr, 0);
  if (err == 0)
    err = posix_spawnattr_setflags(&sa.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  if (err != 0) {
    spdlog::warn("{}: cannot prepare to start it: {}", what, std::strerror(err));
    return;
  }

  pid_t pid = -1;
  err = posix_spawn(&pid, command_.c_str(), &fa.fa, &sa.attr, argv, envp.data());
  if (err != 0) {
    spdlog::warn("{}: cannot start it: {}", what, std::strerror(err));
    return;
  }
  spdlog::debug("{} started (pid {})", what, pid);
  children_.push_back(Child{pid, monotonic_ms(), std::move(what)});
}

void HookRunner::reap(uint64_t now_ms) {
  for (auto it = children_.begin(); it != children_.end();) {
    int status = 0;
    pid_t r = ::waitpid(it->pid, &status, WNOHANG);
    if (r == it->pid) {
      log_exit(it->what, status, now_ms > it->started_ms ? now_ms - it->started_ms : 0);
      it = children_.erase(it);
      continue;
    }
    if (r < 0 && errno != EINTR) {
      // ECHILD: reaped elsewhere (e.g. SIGCHLD ignored); nothing left to track.
      spdlog::debug("{}: waitpid: {}", it->what, std::strerror(errno));
      it = children_.erase(it);
      continue;
    }
    if (now_ms >= it->started_ms && now_ms - it->started_ms >= timeout_ms_) {
      int st = kill_and_wait(it->pid);
      if (st < 0 || (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
        spdlog::warn("{} still running after {} ms; killed", it->what, timeout_ms_);
      else
        log_exit(it->what, st, now_ms - it->started_ms);  // ended just now, on its own
      it = children_.erase(it);
      continue;
    }
    ++it;
  }
}

}  // namespace wanlb
