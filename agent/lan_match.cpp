#include "lan_match.h"

#include <fnmatch.h>
#include <net/if.h>

#include <algorithm>

namespace wanlb {

bool is_interface_pattern(const std::string& name) { return name.find_first_of("*?[") != std::string::npos; }

std::vector<std::string> match_lan_interfaces(const std::vector<std::string>& lan,
                                              const std::vector<std::string>& present) {
  std::vector<std::string> out;
  for (const auto& name : present) {
    bool match = std::any_of(lan.begin(), lan.end(), [&](const std::string& entry) {
      return is_interface_pattern(entry) ? fnmatch(entry.c_str(), name.c_str(), 0) == 0 : entry == name;
    });
    if (match && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  return out;
}

std::vector<std::string> interface_names() {
  std::vector<std::string> out;
  struct if_nameindex* all = if_nameindex();
  if (!all) return out;
  for (auto* i = all; i->if_index != 0; i++) out.push_back(i->if_name);
  if_freenameindex(all);
  return out;
}

}  // namespace wanlb
