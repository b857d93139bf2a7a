#include "bpffs.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

namespace wanlb {

namespace {
constexpr long kBpfFsMagic = 0xcafe4a11;

std::string parent_of(const std::string& dir) {
  auto pos = dir.find_last_of('/');
  if (pos == std::string::npos || pos == 0) return "/";
  return dir.substr(0, pos);
}

void mkdir_p(const std::string& dir) {
  if (dir.empty() || dir == "/") return;
  mkdir_p(parent_of(dir));
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw std::runtime_error("cannot create " + dir + ": " + std::strerror(errno));
}
}  // namespace

bool is_bpffs(const std::string& path) {
  struct statfs st {};
  return statfs(path.c_str(), &st) == 0 && static_cast<long>(st.f_type) == kBpfFsMagic;
}

std::string ensure_bpffs(const std::string& dir) {
  std::string mount_point = parent_of(dir);
  std::string log;
  if (!is_bpffs(mount_point)) {
    mkdir_p(mount_point);
    if (mount("bpf", mount_point.c_str(), "bpf", 0, "mode=0700") != 0)
      throw std::runtime_error("cannot mount bpffs on " + mount_point + ": " + std::strerror(errno));
    log = "mounted bpffs on " + mount_point;
  }
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    throw std::runtime_error("cannot create " + dir + ": " + std::strerror(errno));
  return log;
}

}  // namespace wanlb
