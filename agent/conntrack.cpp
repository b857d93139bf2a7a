// Conntrack clean-up on failover (libnl-nf-3). See conntrack.h.
//
// The table is dumped by hand (IPCTNL_MSG_CT_GET + NLM_F_DUMP, family
// AF_UNSPEC = IPv4 and IPv6 in one dump, each message parsed with
// nfnlmsg_ct_parse) rather than through nfnl_ct_alloc_cache(): only the
// matching entries are kept, so a big table is never copied whole into
// userspace objects, and no cache key can merge two distinct entries.
// Deletes are sent once the dump is over (a netlink socket cannot carry a
// request while a dump on it is still running). Each delete carries the
// entry's tuples, zone and CTA_ID, so it removes exactly the entry that was
// dumped; one that timed out or was deleted in between is ENOENT, which is
// fine.
#include "conntrack.h"

#include "nl_ptr.h"

#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netfilter/ct.h>
#include <netlink/netfilter/nfnl.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

namespace wanlb {

namespace {

struct NfnlCtPut {
  void operator()(nfnl_ct* ct) const { nfnl_ct_put(ct); }
};
using NfnlCtPtr = std::unique_ptr<nfnl_ct, NfnlCtPut>;

[[noreturn]] void fail(const std::string& what, int err) {
  throw std::runtime_error(what + ": " + nl_geterror(err));
}

bool addr_matches(nl_addr* a, const IpAddr& want) {
  if (!a || nl_addr_get_family(a) != want.family) return false;
  size_t len = want.family == AF_INET6 ? 16 : 4;
  return nl_addr_get_len(a) == len && std::memcmp(nl_addr_get_binary_addr(a), want.bytes.data(), len) == 0;
}

struct DumpState {
  const std::vector<IpAddr>* addrs = nullptr;
  std::vector<NfnlCtPtr> matches;
  size_t seen = 0;
  int parse_err = 0;
};

int on_ct_msg(nl_msg* msg, void* arg) {
  auto* st = static_cast<DumpState*>(arg);
  nfnl_ct* raw = nullptr;
  int err = nfnlmsg_ct_parse(nlmsg_hdr(msg), &raw);
  if (err < 0) {
    st->parse_err = err;
    return NL_STOP;
  }
  NfnlCtPtr ct(raw);
  ++st->seen;
  nl_addr* reply_dst = nfnl_ct_get_dst(ct.get(), 1);
  for (const IpAddr& a : *st->addrs) {
    if (addr_matches(reply_dst, a)) {
      st->matches.push_back(std::move(ct));
      break;
    }
  }
  return NL_OK;
}

std::string describe(nfnl_ct* ct) {
  char buf[512] = "";
  auto addr = [](nl_addr* a) {
    char b[INET6_ADDRSTRLEN + 8] = "?";
    if (a) nl_addr2str(a, b, sizeof b);
    return std::string(b);
  };
  std::snprintf(buf, sizeof buf, "proto %u %s -> %s (reply %s -> %s)", static_cast<unsigned>(nfnl_ct_get_proto(ct)),
                addr(nfnl_ct_get_src(ct, 0)).c_str(), addr(nfnl_ct_get_dst(ct, 0)).c_str(),
                addr(nfnl_ct_get_src(ct, 1)).c_str(), addr(nfnl_ct_get_dst(ct, 1)).c_str());
  return buf;
}

}  // namespace

size_t flush_conntrack_nated_to(const std::vector<IpAddr>& addrs) {
  std::vector<IpAddr> wanted;
  for (const IpAddr& a : addrs)
    if (a.family == AF_INET || a.family == AF_INET6) wanted.push_back(a);
  if (wanted.empty()) return 0;

  NlSockPtr sock(nl_socket_alloc());
  if (!sock) throw std::runtime_error("out of memory allocating a netlink socket");
  if (int err = nfnl_connect(sock.get()); err < 0) fail("connecting to ctnetlink", err);
  // Big tables arrive in many multi-part messages; a larger buffer means
  // fewer round trips (the dump itself is flow-controlled by the kernel).
  nl_socket_set_buffer_size(sock.get(), 1 << 20, 0);

  DumpState st;
  st.addrs = &wanted;
  {
    NlCbPtr cb(nl_cb_alloc(NL_CB_DEFAULT));
    if (!cb) throw std::runtime_error("out of memory allocating a netlink callback");
    nl_cb_set(cb.get(), NL_CB_VALID, NL_CB_CUSTOM, on_ct_msg, &st);
    // libnl 3.7 returns the bytes sent here; only a negative value is an error.
    if (int err = nfnl_ct_dump_request(sock.get()); err < 0) fail("requesting the conntrack table", err);
    int err = nl_recvmsgs(sock.get(), cb.get());
    if (st.parse_err < 0) fail("parsing a conntrack entry", st.parse_err);
    if (err < 0) fail("dumping the conntrack table", err);
  }

  size_t deleted = 0;
  for (const NfnlCtPtr& ct : st.matches) {
    int err = nfnl_ct_del(sock.get(), ct.get(), 0);
    if (err == -NLE_OBJ_NOTFOUND) {
      spdlog::debug("conntrack entry already gone: {}", describe(ct.get()));
      continue;
    }
    if (err < 0) fail("deleting conntrack entry " + describe(ct.get()), err);
    spdlog::debug("deleted conntrack entry {}", describe(ct.get()));
    ++deleted;
  }
  spdlog::debug("conntrack: {} entries, {} NATed to the given addresses, {} deleted", st.seen, st.matches.size(),
                deleted);
  return deleted;
}

}  // namespace wanlb
