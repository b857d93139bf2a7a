// Small file helpers shared by the sysctl and state-file code.
#pragma once

#include <string>

namespace wanlb {

// Read a whole file into *out. Returns 0, or the errno of the failure.
int read_whole_file(const std::string& path, std::string* out);

}  // namespace wanlb
