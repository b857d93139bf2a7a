// Least privilege: once set-up is done (program loaded and attached, maps
// filled and pinned, routing installed, control socket and metrics
// listening), the agent gives up every capability it will not use again.
//
// What the running agent still does, and what that needs:
//   - routes, fwmark rules, nftables, conntrack flush, sysctls in
//     /proc/sys/net, clsact + tc filter for a LAN interface that appears
//     later (the program is already loaded; tc netlink takes its fd), SO_MARK
//     on probe sockets                                       -> CAP_NET_ADMIN
//   - raw ICMP/ICMPv6 and AF_PACKET probe sockets, reopened whenever a WAN's
//     targets or gateway change                              -> CAP_NET_RAW
//   - map reads and writes (apply, reload, status, flows, metrics) go through
//     map fds it already holds: no capability on kernels >= 6.5. Older
//     kernels (Debian 12's 6.1) refuse *every* bpf() command without
//     CAP_BPF while kernel.unprivileged_bpf_disabled is set, so there
//     CAP_BPF is kept (runtime_capabilities() finds out).
// Nothing after set-up loads a program, creates a map, pins, mounts a
// bpffs or opens a BPF object by id, so CAP_SYS_ADMIN and CAP_PERFMON
// (and CAP_BPF on current kernels) are dropped.
//
// The drop applies to every thread of the process (capabilities are
// per-thread in Linux, and the metrics server's threads exist by then), and
// covers the effective, permitted and inheritable sets, the ambient set and,
// when CAP_SETPCAP allows it, the bounding set. It also sets no_new_privs,
// so a program the agent starts (state-change hooks) cannot regain a dropped
// capability through execve, even where the bounding set could not be cut.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wanlb {

// Capability numbers (as in <linux/capability.h>) as a bit mask.
uint64_t capability_mask(const std::vector<int>& caps);
// "CAP_NET_ADMIN, CAP_NET_RAW" (ascending bit order); "none" for 0.
std::string capability_names(uint64_t mask);
// The calling thread's effective set, as capability_names() prints it.
std::string capability_summary();

// True if this kernel refuses bpf() commands on map fds (lookup, update,
// get-next-key, ...) to a process without CAP_BPF/CAP_SYS_ADMIN. Probed in
// a forked child; conservative (true) on a kernel before 6.5 even when
// kernel.unprivileged_bpf_disabled is 0 now, as root may set it later.
bool bpf_fd_commands_need_capability();

// What the agent keeps after set-up: CAP_NET_ADMIN, CAP_NET_RAW, and
// CAP_BPF only when bpf_fd_commands_need_capability(). `why` (optional)
// gets a short reason when CAP_BPF is kept.
std::vector<int> runtime_capabilities(std::string* why = nullptr);

struct CapDropResult {
  bool dropped = false;         // false: nothing to drop (not privileged)
  uint64_t kept = 0;            // effective = permitted after the drop
  bool bounding_cut = false;    // the bounding set is `kept` too
  int threads = 1;              // threads that hold exactly the new sets
};

// Keep only `keep` (intersected with what the process has) in the
// effective and permitted sets of every thread; clear inheritable and
// ambient; drop everything else from the bounding set if CAP_SETPCAP is
// permitted; set no_new_privs. Does nothing if the process has no
// capability outside `keep`. Throws std::runtime_error if a step fails or
// a thread does not take the new sets within a second.
CapDropResult drop_capabilities(const std::vector<int>& keep);

// The agent's call once set-up is done: drop_capabilities(
// runtime_capabilities()) and log what was kept at info level.
void drop_privileges_after_setup();

}  // namespace wanlb
