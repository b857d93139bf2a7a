// Applied-state file (JSON) under /run/wanlb. See state_store.h.
#include "state_store.h"

#include "file_util.h"

#include <fstream>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace wanlb {

namespace {

using nlohmann::json;

constexpr int kStateVersion = 1;

[[noreturn]] void fail(const std::string& what, const std::string& path, int err) {
  throw std::runtime_error("cannot " + what + " " + path + ": " + std::strerror(err));
}

// mkdir -p with 0700: the file records what to undo, only root should touch it.
void make_dirs(const std::string& dir) {
  if (dir.empty()) return;
  for (size_t pos = 1;; ++pos) {
    pos = dir.find('/', pos);
    std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) fail("create directory", part, errno);
    if (pos == std::string::npos) break;
  }
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

json to_json(const AppliedState& st) {
  json sysctls = json::array();
  for (const auto& c : st.sysctls) sysctls.push_back({{"key", c.key}, {"old", c.old_value}, {"new", c.new_value}});
  return {{"version", kStateVersion},
          {"sysctls", sysctls},
          {"clsact_created", st.clsact_created},
          {"lan", st.lan},
          {"bpffs_dir", st.bpffs_dir},
          {"route_protocol", st.route_protocol},
          {"agent_pid", st.agent_pid}};
}

AppliedState from_json(const json& j) {
  AppliedState st;
  for (const auto& c : j.value("sysctls", json::array()))
    st.sysctls.push_back({c.at("key").get<std::string>(), c.at("old").get<std::string>(),
                          c.at("new").get<std::string>()});
  st.clsact_created = j.value("clsact_created", std::vector<std::string>{});
  st.lan = j.value("lan", std::vector<std::string>{});
  st.bpffs_dir = j.value("bpffs_dir", std::string{});
  st.route_protocol = j.value("route_protocol", 0U);
  st.agent_pid = j.value("agent_pid", 0);
  return st;
}

void write_all(int fd, const std::string& data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("write", path, errno);
    done += static_cast<size_t>(n);
  }
}

// False if the file does not exist; throws on any other failure.
bool read_file(const std::string& path, std::string* out) {
  int err = read_whole_file(path, out);
  if (err == ENOENT) return false;
  if (err != 0) fail("read", path, err);
  return true;
}

}  // namespace

std::string netns_name() {
  // The network namespace cookie is never reused while the machine is up,
  // unlike the inode of /proc/self/ns/net: a namespace deleted without
  // cleanup cannot hand its stale state to a new one.
  int sock = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) fail("socket", "AF_UNIX", errno);
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  int rc = ::getsockopt(sock, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len);
  int err = errno;
  ::close(sock);
  if (rc != 0) fail("getsockopt", "SO_NETNS_COOKIE", err);
  return "netns-" + std::to_string(static_cast<unsigned long long>(cookie));
}

std::string state_path(const std::string& run_dir) { return run_dir + "/" + netns_name() + ".json"; }

AppliedState load_state(const std::string& path) {
  std::string text;
  if (!read_file(path, &text)) return {};  // nothing applied yet (or already cleaned up)
  try {
    json j = json::parse(text);
    if (!j.is_object()) throw std::runtime_error("not a JSON object");
    return from_json(j);
  } catch (const std::exception& e) {
    throw std::runtime_error("corrupt state file " + path + ": " + e.what());
  }
}

void save_state(const std::string& path, const AppliedState& st) {
  std::string dir = dir_of(path);
  make_dirs(dir);
  // Temp file in the same directory so rename() is atomic: a reader sees the
  // old file or the new one, never half of one.
  std::string tmp = path + ".tmpXXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) fail("create temporary file for", path, errno);
  try {
    write_all(fd, to_json(st).dump(2) + "\n", tmp);
    if (::fsync(fd) != 0) fail("sync", tmp, errno);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail("rename into place", path, err);
  }
}

void remove_state(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) fail("remove", path, errno);
}

void record_sysctl(AppliedState* st, const SysctlChange& change) {
  for (auto& c : st->sysctls) {
    if (c.key != change.key) continue;
    // Keep the original old value: after a restart the "old" value we read is
    // wanlb's own, and restoring that would leave the system changed.
    c.new_value = change.new_value;
    return;
  }
  st->sysctls.push_back(change);
}

bool agent_alive(int pid) {
  if (pid <= 0) return false;
  std::ifstream comm("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  if (!std::getline(comm, name) || name != "wanlb") return false;
  // A killed agent that nobody reaped yet (a zombie) is dead: it holds no
  // socket and will re-install nothing.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t paren = line.rfind(')');
  char state = paren != std::string::npos && paren + 2 < line.size() ? line[paren + 2] : '?';
  return state != 'Z' && state != 'X';
}

}  // namespace wanlb
