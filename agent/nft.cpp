// wanlb's nftables table through libnftables. See nft.h.
//
// libnftables talks netlink from the calling thread: the table lands in the
// network namespace the Nft object (its netlink socket) was made in. Make
// the Nft in the namespace you mean to change (tests: inside the private one).
#include "nft.h"

#include <nftables/libnftables.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace wanlb {

namespace {

// Interface names go into nft double-quoted strings, which have no escape
// for '"'. Linux itself allows almost any byte in a name; wanlb accepts only
// names nft can carry verbatim and that cannot change a rule's meaning:
// 1..15 printable ASCII chars, none of whitespace, '/', ':' (not Linux
// names), '"' (would end the string), '\\' and '*' (nft reads a trailing
// '*' as a wildcard and "\*" as an escape). Throws std::invalid_argument.
std::string quote_ifname(const std::string& name) {
  if (name.empty() || name.size() > 15)
    throw std::invalid_argument("nft: interface name '" + name + "' must be 1..15 characters");
  if (name == "." || name == "..") throw std::invalid_argument("nft: '" + name + "' is not an interface name");
  for (unsigned char c : name) {
    if (c <= 0x20 || c >= 0x7f || c == '/' || c == ':' || c == '"' || c == '\\' || c == '*')
      throw std::invalid_argument("nft: interface name '" + name +
                                  "' has a character nft rules cannot carry safely (space, control, non-ASCII, "
                                  "'/', ':', '\"', '\\\\' or '*')");
  }
  return "\"" + name + "\"";
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

}  // namespace

std::string render_nft_ruleset(const std::vector<NftWan>& wans, uint32_t mark_mask, bool tag_inbound) {
  if (mark_mask == 0 && !wans.empty()) throw std::invalid_argument("nft: the mark mask is 0");
  // Validate everything before writing anything.
  std::vector<std::string> quoted;
  quoted.reserve(wans.size());
  for (const NftWan& w : wans) {
    // The tagging map has one entry per interface (nft refuses a second).
    if (std::count_if(wans.begin(), wans.end(), [&](const NftWan& o) { return o.ifname == w.ifname; }) > 1)
      throw std::invalid_argument("nft: interface " + w.ifname + " is given for more than one WAN");
    quoted.push_back(quote_ifname(w.ifname));
    if (w.mark == 0 || (w.mark & ~mark_mask) != 0)
      throw std::invalid_argument("nft: WAN on " + w.ifname + ": mark " + hex32(w.mark) +
                                  " is zero or has bits outside the mark mask " + hex32(mark_mask));
  }

  // WANs in the given order (the config's), so the same input always gives
  // the same text. A chain is only written when it has rules: an empty
  // `nat` chain still registers the NAT hooks, and with neither chain
  // conntrack is never loaded for wanlb (`inbound: none`, no NAT).
  const bool any_nat = std::any_of(wans.begin(), wans.end(), [](const NftWan& w) {
    return w.nat4 == NatMode::Masquerade || w.nat6 == NatMode::Masquerade;
  });
  const bool tagging = tag_inbound && !wans.empty();
  std::string out;
  out += "table inet wanlb {\n";
  if (tagging) {
    out += "\t# A connection that starts on a WAN (its first packet comes in there:\n";
    out += "\t# port forwards, services on the router) gets that WAN's mark in the\n";
    out += "\t# mark mask's bits of its conntrack mark (other bits are kept), so the\n";
    out += "\t# data path sends its replies back out through the same WAN.\n";
    for (size_t i = 0; i < wans.size(); ++i) {
      out += "\tchain tag" + std::to_string(i) + " {\n";
      out += "\t\tct mark set ct mark and " + hex32(~mark_mask) + " or " + hex32(wans[i].mark) + "\n";
      out += "\t}\n";
    }
    // One rule and one map lookup whatever the number of WANs: conntrack
    // calls a packet new until its connection has seen a reply, so a
    // one-way flow (a UDP stream, a scan) pays this test on every packet.
    // A packet that already carries a WAN's mark was classified by the LAN
    // data path (tc ingress runs before this hook), so it did not come in
    // from a WAN: the mark test spares the balanced traffic the interface
    // name lookup (about 40 ns a packet on the forwarding benchmark).
    out += "\tchain prerouting {\n";
    out += "\t\ttype filter hook prerouting priority mangle; policy accept;\n";
    out += "\t\tct state new meta mark and " + hex32(mark_mask) + " == 0 iifname vmap { ";
    for (size_t i = 0; i < wans.size(); ++i)
      out += (i ? ", " : "") + quoted[i] + " : goto tag" + std::to_string(i);
    out += " }\n";
    out += "\t}\n";
  }
  if (any_nat) {
    if (tagging) out += "\n";
    out += "\t# Source NAT to the WAN's address, per WAN and address family (nat / nat6).\n";
    out += "\tchain postrouting {\n";
    out += "\t\ttype nat hook postrouting priority srcnat; policy accept;\n";
    for (size_t i = 0; i < wans.size(); ++i) {
      if (wans[i].nat4 == NatMode::Masquerade) out += "\t\tmeta nfproto ipv4 oifname " + quoted[i] + " masquerade\n";
      if (wans[i].nat6 == NatMode::Masquerade) out += "\t\tmeta nfproto ipv6 oifname " + quoted[i] + " masquerade\n";
    }
    out += "\t}\n";
  }
  out += "}\n";
  return out;
}

Nft::Nft() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT)) {
  if (!ctx_) throw std::runtime_error("nft: cannot create a libnftables context");
  if (nft_ctx_buffer_output(ctx_) != 0 || nft_ctx_buffer_error(ctx_) != 0) {
    nft_ctx_free(ctx_);
    ctx_ = nullptr;
    throw std::runtime_error("nft: cannot buffer libnftables output");
  }
}

Nft::~Nft() {
  if (ctx_) nft_ctx_free(ctx_);
}

// Runs `cmd`; *ok tells whether it succeeded. Returns nft's output on
// success and its error text (never empty) on failure. Both buffers are
// drained either way (reading one rewinds it for the next command).
std::string Nft::run(const std::string& cmd, bool* ok) {
  int rc = nft_run_cmd_from_buffer(ctx_, cmd.c_str());
  const char* o = nft_ctx_get_output_buffer(ctx_);
  const char* e = nft_ctx_get_error_buffer(ctx_);
  std::string out = o ? o : "";
  std::string err = e ? e : "";
  *ok = rc == 0;
  if (*ok) return out;
  if (err.empty()) err = "nft command failed (" + std::to_string(rc) + ")";
  while (!err.empty() && err.back() == '\n') err.pop_back();
  return err;
}

void Nft::apply(const std::string& ruleset) {
  // One batch, one transaction: make sure the table exists (so the delete
  // cannot fail), delete it with everything in it, add the new one. The
  // kernel commits all of it or none of it.
  std::string batch = "table inet wanlb\ndelete table inet wanlb\n" + ruleset;
  if (batch.back() != '\n') batch += '\n';
  bool ok = false;
  std::string err = run(batch, &ok);
  if (!ok) throw std::runtime_error("nft: applying table inet wanlb failed: " + err);
}

bool Nft::exists() {
  bool ok = false;
  run("list table inet wanlb", &ok);
  return ok;
}

bool Nft::remove() {
  if (!exists()) return false;
  bool ok = false;
  std::string err = run("delete table inet wanlb", &ok);
  if (ok) return true;
  if (!exists()) return false;  // someone else deleted it in between
  throw std::runtime_error("nft: deleting table inet wanlb failed: " + err);
}

std::string Nft::list() {
  bool ok = false;
  std::string out = run("list table inet wanlb", &ok);
  return ok ? out : "";
}

}  // namespace wanlb
