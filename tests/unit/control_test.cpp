// Control socket: round trips, error replies, stale and live sockets, file
// modes, a silent client, cleanup. No privileges needed (the peer-credential
// tests with a group and another uid skip unless root); everything lives in
// a temporary directory.
#include "control.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>

namespace wanlb {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

class ControlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wanlb-control-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/agent.sock";
  }
  void TearDown() override {
    stop();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Runs `server` in a thread that polls fd() and calls on_readable().
  void start(std::unique_ptr<ControlServer> server) {
    server_ = std::move(server);
    running_ = true;
    thread_ = std::thread([this] {
      while (running_) {
        pollfd p{server_->fd(), POLLIN, 0};
        if (::poll(&p, 1, 20) > 0) server_->on_readable();
      }
    });
  }
  void start(ControlServer::Handler handler, gid_t group = static_cast<gid_t>(-1)) {
    start(std::make_unique<ControlServer>(path_, group, std::move(handler)));
  }
  void stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
    server_.reset();
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<ControlServer> server_;
  std::atomic<bool> running_{false};
  std::thread thread_;
};

json echo(const json& req) { return {{"ok", true}, {"result", {{"echo", req}}}}; }

sockaddr_un addr_of(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  return addr;
}

int raw_connect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_un addr = addr_of(path);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `data` as is and returns everything the server answers until it closes.
std::string raw_exchange(const std::string& path, const std::string& data) {
  int fd = raw_connect(path);
  if (fd < 0) return "<connect failed>";
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // it may have answered early (too long)
    sent += static_cast<size_t>(n);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

json parse_line(const std::string& s) {
  EXPECT_FALSE(s.empty());
  EXPECT_EQ(s.back(), '\n');
  return json::parse(s);
}

TEST(ControlPath, NamedAfterTheNetns) {
  std::string p = control_socket_path("/some/dir");
  EXPECT_EQ(p.rfind("/some/dir/netns-", 0), 0U) << p;
  EXPECT_EQ(p.substr(p.size() - 5), ".sock");
  std::string cookie = p.substr(std::strlen("/some/dir/netns-"), p.size() - 5 - std::strlen("/some/dir/netns-"));
  ASSERT_FALSE(cookie.empty());
  EXPECT_EQ(cookie.find_first_not_of("0123456789"), std::string::npos) << cookie;
  EXPECT_EQ(control_socket_path("/some/dir"), p);
  EXPECT_NE(control_socket_path().find("/run/wanlb/netns-"), std::string::npos);
}

TEST_F(ControlTest, RoundTrip) {
  start(echo);
  for (int i = 0; i < 3; ++i) {
    json reply = control_request(path_, {{"cmd", "drain"}, {"wan", "isp" + std::to_string(i)}});
    EXPECT_EQ(reply["ok"], true);
    EXPECT_EQ(reply["result"]["echo"]["cmd"], "drain");
    EXPECT_EQ(reply["result"]["echo"]["wan"], "isp" + std::to_string(i));
  }
}

TEST_F(ControlTest, ReplyWithoutOkIsWrapped) {
  start([](const json& req) -> json {
    if (req["cmd"] == "number") return 42;
    return {{"wans", json::array({"isp1"})}};
  });
  EXPECT_EQ(control_request(path_, {{"cmd", "number"}}), (json{{"ok", true}, {"result", 42}}));
  EXPECT_EQ(control_request(path_, {{"cmd", "status"}}),
            (json{{"ok", true}, {"result", {{"wans", json::array({"isp1"})}}}}));
}

TEST_F(ControlTest, ErrorReplyPassesThrough) {
  start([](const json&) -> json { return {{"ok", false}, {"error", "no such wan"}}; });
  EXPECT_EQ(control_request(path_, {{"cmd", "drain"}}), (json{{"ok", false}, {"error", "no such wan"}}));
}

TEST_F(ControlTest, HandlerExceptionBecomesErrorReply) {
  start([](const json&) -> json { throw std::runtime_error("boom"); });
  EXPECT_EQ(control_request(path_, {{"cmd", "reload"}}), (json{{"ok", false}, {"error", "boom"}}));
  // The server survives it.
  EXPECT_EQ(control_request(path_, {{"cmd", "reload"}})["error"], "boom");
}

TEST_F(ControlTest, BadRequests) {
  std::atomic<int> calls{0};
  start([&](const json& req) {
    ++calls;
    return echo(req);
  });
  json r = parse_line(raw_exchange(path_, "this is not json\n"));
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["error"].get<std::string>().rfind("bad request: ", 0), 0U) << r;

  r = parse_line(raw_exchange(path_, "[1, 2]\n"));
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["error"], "bad request: not a JSON object");

  r = parse_line(raw_exchange(path_, std::string(100 * 1024, ' ') + "{}\n"));
  EXPECT_EQ(r["ok"], false);
  EXPECT_NE(r["error"].get<std::string>().find("longer than"), std::string::npos) << r;

  // Invalid UTF-8 in the request: an error reply, still valid JSON.
  r = parse_line(raw_exchange(path_, "{\"cmd\": \"\xff\"}\n"));
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(calls, 0);

  // One line is one request; an unterminated line closed by the peer still counts.
  r = parse_line(raw_exchange(path_, "{\"cmd\": \"status\"}\r\n{\"cmd\": \"ignored\"}\n"));
  EXPECT_EQ(r["result"]["echo"]["cmd"], "status");
  int fd = raw_connect(path_);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::send(fd, "{\"cmd\":\"x\"}", 11, MSG_NOSIGNAL), 11);
  ::shutdown(fd, SHUT_WR);
  char buf[256];
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1);
  ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
  ::close(fd);
  ASSERT_GT(n, 0);
  EXPECT_EQ(parse_line(std::string(buf, static_cast<size_t>(n)))["result"]["echo"]["cmd"], "x");
  EXPECT_EQ(calls, 2);
}

TEST_F(ControlTest, NoAgentWithoutSocketFile) {
  try {
    control_request(path_, {{"cmd", "status"}});
    FAIL() << "no exception";
  } catch (const NoAgentError& e) {
    EXPECT_EQ(std::string(e.what()),
              "no wanlb agent runs in this network namespace (no control socket at " + path_ + ")");
  }
  // Not even the directory.
  EXPECT_THROW(control_request(dir_ + "/missing/x.sock", {{"cmd", "status"}}), NoAgentError);
}

TEST_F(ControlTest, StaleSocketIsNoAgentAndGetsReplaced) {
  {  // An agent that died without cleanup: the file stays, nobody listens.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr = addr_of(path_);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(::listen(fd, 1), 0);
    ::close(fd);
  }
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_THROW(control_request(path_, {{"cmd", "status"}}), NoAgentError);

  start(echo);
  EXPECT_EQ(control_request(path_, {{"cmd", "status"}})["result"]["echo"]["cmd"], "status");
}

TEST_F(ControlTest, LiveSocketIsNotStolen) {
  start(echo);
  struct stat before {};
  ASSERT_EQ(::stat(path_.c_str(), &before), 0);
  try {
    ControlServer second(path_, static_cast<gid_t>(-1), echo);
    FAIL() << "a second server took a live socket";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "another agent listens on " + path_);
  }
  struct stat after {};
  ASSERT_EQ(::stat(path_.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(control_request(path_, {{"cmd", "status"}})["ok"], true);
}

TEST_F(ControlTest, RefusesToReplaceANonSocket) {
  { std::FILE* f = std::fopen(path_.c_str(), "w"); ASSERT_NE(f, nullptr); std::fclose(f); }
  EXPECT_THROW(ControlServer(path_, static_cast<gid_t>(-1), echo), std::runtime_error);
  EXPECT_TRUE(std::filesystem::is_regular_file(path_));
}

TEST_F(ControlTest, SocketFileIsRootOnly) {
  path_ = dir_ + "/sub/dir/agent.sock";  // the server creates its directory
  ControlServer server(path_, static_cast<gid_t>(-1), echo);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600U);
  ASSERT_EQ(::stat((dir_ + "/sub/dir").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755U);
}

TEST_F(ControlTest, SocketFileWithGroup) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown to root needs root";
  const gid_t group = 54321;
  ControlServer server(path_, group, echo);
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660U);
  EXPECT_EQ(st.st_uid, 0U);
  EXPECT_EQ(st.st_gid, group);
}

// Forks a child that drops to uid 65534 (primary gid `gid`), sends one
// request and hands the reply back through a pipe. Only async-signal-safe
// calls in the child: the parent has threads.
std::string request_as_nobody(const std::string& path, gid_t gid) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return "<pipe failed>";
  sockaddr_un addr = addr_of(path);
  static const char kRequest[] = "{\"cmd\":\"status\"}\n";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipefd[0]);
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(65534) != 0) ::_exit(2);
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) ::_exit(3);
    ssize_t ignored = ::send(fd, kRequest, sizeof(kRequest) - 1, MSG_NOSIGNAL);
    (void)ignored;
    char buf[512];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0)
      if (::write(pipefd[1], buf, static_cast<size_t>(n)) != n) ::_exit(4);
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return "<child failed: " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ">";
  return out;
}

TEST_F(ControlTest, PeerCredentials) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching to another uid needs root";
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  const gid_t group = 54321;
  start(echo, group);

  // In the group (primary gid): served. Another gid: the file mode stops it.
  json r = parse_line(request_as_nobody(path_, group));
  EXPECT_EQ(r["ok"], true) << r;
  EXPECT_EQ(request_as_nobody(path_, 54322), "<child failed: 3>");

  // Even with the file opened up, SO_PEERCRED refuses a stranger.
  ASSERT_EQ(::chmod(path_.c_str(), 0666), 0);
  r = parse_line(request_as_nobody(path_, 54322));
  EXPECT_EQ(r, (json{{"ok", false}, {"error", "permission denied"}}));
}

TEST_F(ControlTest, SilentClientIsDroppedWithoutBlockingOthers) {
  start(echo);
  int silent = raw_connect(path_);
  ASSERT_GE(silent, 0);
  const auto t0 = Clock::now();
  // Another client, meanwhile, gets its answer without waiting for the silent one.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  json r = control_request(path_, {{"cmd", "status"}}, 10000);
  const auto served = Clock::now() - t0;
  EXPECT_EQ(r["ok"], true);

  pollfd p{silent, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1) << "the silent client was never dropped";
  char c;
  EXPECT_EQ(::recv(silent, &c, 1, 0), 0);  // EOF, no reply
  const auto dropped = Clock::now() - t0;
  ::close(silent);
  EXPECT_LT(served, dropped);
  EXPECT_GE(dropped, std::chrono::milliseconds(800));
  EXPECT_LT(dropped, std::chrono::milliseconds(5000));
}

TEST_F(ControlTest, ClientTimesOut) {
  // Listens but never answers.
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr = addr_of(path_);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  const auto t0 = Clock::now();
  try {
    control_request(path_, {{"cmd", "status"}}, 200);
    FAIL() << "no exception";
  } catch (const NoAgentError&) {
    FAIL() << "a listening socket is an agent";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "the agent did not answer within 200 ms");
  }
  EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(3000));
  ::close(fd);
}

TEST_F(ControlTest, BadReply) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr = addr_of(path_);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  auto answer = std::async(std::launch::async, [fd] {
    int c = ::accept(fd, nullptr, nullptr);
    if (c < 0) return;
    ssize_t ignored = ::send(c, "garbage\n", 8, MSG_NOSIGNAL);
    (void)ignored;
    ::close(c);
  });
  try {
    control_request(path_, {{"cmd", "status"}}, 5000);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("bad reply from the agent: ", 0), 0U) << e.what();
  }
  answer.get();
  ::close(fd);
}

TEST_F(ControlTest, DestructorRemovesOnlyItsOwnSocket) {
  {
    ControlServer server(path_, static_cast<gid_t>(-1), echo);
    EXPECT_TRUE(std::filesystem::exists(path_));
  }
  EXPECT_FALSE(std::filesystem::exists(path_));

  // Someone replaced our file (e.g. removed it and started anew): leave theirs.
  auto first = std::make_unique<ControlServer>(path_, static_cast<gid_t>(-1), echo);
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  start(echo);
  first.reset();
  EXPECT_TRUE(std::filesystem::exists(path_));
  EXPECT_EQ(control_request(path_, {{"cmd", "status"}})["ok"], true);
  stop();
  EXPECT_FALSE(std::filesystem::exists(path_));
}

}  // namespace
}  // namespace wanlb
