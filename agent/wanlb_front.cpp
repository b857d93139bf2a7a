// wanlb: the command users type. It serves the agent's verbs (reload, drain,
// undrain) itself and runs wanlb-agent, the full program next to it, for
// everything else (run, check, status, flows, cleanup, --help, --version).
//
// Why two binaries: the full program links libbpf, libnl, libnftables,
// yaml-cpp, spdlog and cpp-httplib (which Debian builds against OpenSSL and
// brotli): 28 shared libraries, whose mapping alone takes about 5 ms before
// main() on the development VM. A weight change by `wanlb reload` has 10 ms
// to reach the maps, and the agent needs about 6 of them. This binary links
// only libstdc++: `wanlb reload` as a command takes about 2 ms (1.9-2.1 ms
// from a shell loop, where /bin/true takes 1.1 ms); for the other verbs
// the exec costs about 1 ms more, once.
//
// The exec keeps the process (pid, systemd's MainPID and sd_notify, the
// capabilities of a root process) and argv; wanlb-agent names itself
// `wanlb` (comm), as the agent's peer checks expect.
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "ctl.h"

namespace {

// argv[first]: the verb, after the global options (only --log-level, which
// these verbs ignore). Returns argc when there is none.
int verb_index(int argc, char** argv) {
  int i = 1;
  while (i < argc) {
    if (std::strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) i += 2;
    else if (std::strncmp(argv[i], "--log-level=", 12) == 0) i += 1;
    else break;
  }
  return i;
}

// The full program: wanlb-agent in this binary's directory ("" when this
// binary cannot find itself: no /proc).
std::string full_program() {
  char self[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "";
  self[n] = '\0';
  std::string dir(self);
  dir.erase(dir.rfind('/') + 1);
  return dir + "wanlb-agent";
}

}  // namespace

int main(int argc, char** argv) {
  int v = verb_index(argc, argv);
  int rest = argc - v - 1;  // arguments after the verb
  if (v < argc) {
    // Only the plain forms: anything else (--help, a stray option, a missing
    // WAN) goes to the full program, which explains it.
    if (std::strcmp(argv[v], "reload") == 0 && rest == 0) return wanlb::cmd_reload();
    bool drain = std::strcmp(argv[v], "drain") == 0;
    if ((drain || std::strcmp(argv[v], "undrain") == 0) && rest == 1 && argv[v + 1][0] != '-')
      return wanlb::cmd_drain(argv[v + 1], drain);
  }
  std::string full = full_program();
  if (full.empty()) {
    std::fprintf(stderr, "wanlb: cannot find wanlb-agent: /proc/self/exe is unreadable: %s\n", std::strerror(errno));
    return 1;
  }
  ::execv(full.c_str(), argv);
  std::fprintf(stderr, "wanlb: cannot run %s: %s\n", full.c_str(), std::strerror(errno));
  return 1;
}
