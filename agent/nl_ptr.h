// unique_ptr aliases for libnl objects, so every netlink object wanlb
// allocates is released on every path (routing.cpp, connected.cpp).
#pragma once

#include <memory>

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/handlers.h>
#include <netlink/object.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>
#include <netlink/socket.h>

namespace wanlb {

struct NlObjPut {
  void operator()(void* o) const { nl_object_put(static_cast<nl_object*>(o)); }
};
struct NlAddrPut {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct NlCbPut {
  void operator()(nl_cb* c) const { nl_cb_put(c); }
};
struct NlSockFree {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct NlCacheFree {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};

using NlObjPtr = std::unique_ptr<nl_object, NlObjPut>;
using NlRulePtr = std::unique_ptr<rtnl_rule, NlObjPut>;
using NlRoutePtr = std::unique_ptr<rtnl_route, NlObjPut>;
using NlAddrPtr = std::unique_ptr<nl_addr, NlAddrPut>;
using NlCbPtr = std::unique_ptr<nl_cb, NlCbPut>;
using NlSockPtr = std::unique_ptr<nl_sock, NlSockFree>;
using NlCachePtr = std::unique_ptr<nl_cache, NlCacheFree>;

}  // namespace wanlb
