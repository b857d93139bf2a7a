// /proc/sys access for the current network namespace. See sysctl.h.
//
// Keys use slashes ("net/ipv4/conf/eth0.10/rp_filter"); dots are never
// turned into slashes because interface names may contain them.
#include "sysctl.h"

#include "file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace wanlb {

namespace {

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// Refuse keys that could escape /proc/sys.
std::string path_of(const std::string& key) {
  if (key.empty() || key[0] == '/' || key.find("..") != std::string::npos)
    throw std::runtime_error("invalid sysctl key '" + key + "'");
  return "/proc/sys/" + key;
}

[[noreturn]] void fail(const char* what, const std::string& key, int err) {
  throw std::runtime_error(std::string("cannot ") + what + " sysctl " + key + ": " + std::strerror(err));
}

}  // namespace

std::string sysctl_get(const std::string& key) {
  std::string out;
  if (int err = read_whole_file(path_of(key), &out)) fail("read", key, err);
  return trim(out);
}

std::optional<SysctlChange> sysctl_set(const std::string& key, const std::string& value) {
  std::string old_value = sysctl_get(key);
  std::string new_value = trim(value);
  if (old_value == new_value) return std::nullopt;
  int fd = ::open(path_of(key).c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) fail("write", key, errno);
  // /proc/sys takes the whole value in one write.
  ssize_t n = ::write(fd, new_value.data(), new_value.size());
  int err = errno;
  ::close(fd);
  if (n < 0) fail("write", key, err);
  if (static_cast<size_t>(n) != new_value.size()) fail("write", key, EIO);
  return SysctlChange{key, old_value, new_value};
}

}  // namespace wanlb
