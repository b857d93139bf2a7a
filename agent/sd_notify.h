// Readiness and status notifications to systemd (Type=notify services).
//
// sd_notify(3)'s protocol, spoken directly (no libsystemd). Every call is a no-op when
// the agent was not started by systemd with a notify socket (NOTIFY_SOCKET
// unset), so the agent calls them unconditionally: from a shell, in the lab
// or in tests nothing happens. Failures to notify are logged at debug level
// and never thrown: a lost notification must not take the data path down.
//
// Use from the agent:
//   notify_ready("3 WANs, 3 up")   once the data path is attached and routing is in place
//   notify_status("isp2 down")     any time; shown by `systemctl status wanlb`
//   notify_reloading()             on SIGHUP, before re-reading the config;
//                                  follow with notify_ready() when done
//   notify_stopping()              on SIGTERM/SIGINT, before leaving
#pragma once

#include <string>

namespace wanlb {

// READY=1 plus STATUS=<status> (STATUS omitted when empty).
void notify_ready(const std::string& status);

// STATUS=<status>: the one-line status `systemctl status` shows.
void notify_status(const std::string& status);

// STOPPING=1.
void notify_stopping();

// RELOADING=1 with MONOTONIC_USEC=<now> (systemd >= 253 requires the
// timestamp for Type=notify-reload; older versions ignore it).
void notify_reloading();

}  // namespace wanlb
