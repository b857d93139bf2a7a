// The bpffs directory where wanlb pins its maps and program.
//
// `ip netns exec` remounts /sys, so inside it /sys/fs/bpf is a plain sysfs
// directory: ensure_bpffs() mounts a bpffs there when none is mounted.
// Such a mount lives in that process's private mount namespace only; state
// still survives the agent because the attached tc program holds its maps
// (see datapath.h: open_running_maps).
#pragma once

#include <string>

namespace wanlb {

bool is_bpffs(const std::string& path);
// Make `dir` usable for pins: mount bpffs on its parent if that is not a
// bpffs, then create `dir`. Returns a log line if it mounted, else "".
std::string ensure_bpffs(const std::string& dir);

}  // namespace wanlb
