#include "sd_notify.h"

#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <spdlog/spdlog.h>

namespace wanlb {

namespace {

// STATUS= takes one line: systemd cuts at the first newline anyway, but the
// rest of the message would then be read as more assignments.
std::string one_line(const std::string& s) {
  std::string out = s;
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

void send(const std::string& message) {
  // unset_environment = 0: the agent notifies many times over its life.
  int r = sd_notify(0, message.c_str());
  if (r < 0) spdlog::debug("sd_notify({}): {}", message, std::strerror(-r));
}

}  // namespace

void notify_ready(const std::string& status) {
  std::string msg = "READY=1";
  if (!status.empty()) msg += "\nSTATUS=" + one_line(status);
  send(msg);
}

void notify_status(const std::string& status) { send("STATUS=" + one_line(status)); }

void notify_stopping() { send("STOPPING=1"); }

void notify_reloading() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  unsigned long long usec =
      static_cast<unsigned long long>(ts.tv_sec) * 1000000ULL + static_cast<unsigned long long>(ts.tv_nsec) / 1000ULL;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

}  // namespace wanlb
