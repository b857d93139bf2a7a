// libFuzzer harness for the config parser: parse_config(input, "fuzz.yaml").
//
// Properties (see docs/fuzzing.md):
//   - no crash, no sanitizer report, no hang (libFuzzer -timeout);
//   - the only exception is wanlb::ConfigError, and its message reads
//     "fuzz.yaml:<line>: <something>" — or, for an error inside a policy's
//     prefix file, "<that file>:<line>: <something>" (config.cpp names the
//     file that holds the bad line);
//   - any other exception (yaml-cpp's, std::invalid_argument, std::out_of_range,
//     std::bad_alloc, ...) is a bug: abort. bad_alloc included: inputs are a
//     few KB, and a parser that asks for gigabytes on them is broken.
//
// `file:` prefix lists: the parser reads the named file. A fuzzed path could
// name /dev/zero or a FIFO and hang the run, so every input is pre-parsed
// with yaml-cpp (same decoding of quotes and escapes as parse_config) and
// skipped when a scalar starting with "file:" names anything but the
// sandbox files written at start-up under /tmp/wanlb-fuzz-config/.
#include <sys/stat.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>
#include <new>
#include <string>
#include <typeinfo>
#include <vector>

#include "config.h"

namespace {

const char* const kSandbox = "/tmp/wanlb-fuzz-config";
std::vector<std::string> g_files;

[[noreturn]] void violation(const std::string& what) {
  std::fprintf(stderr, "\n*** wanlb config property violated: %s\n", what.c_str());
  std::abort();
}

void write_sandbox() {
  ::mkdir(kSandbox, 0755);
  const std::pair<const char*, const char*> files[] = {
      {"good.txt", "# comment\n10.0.0.0/8\n  192.0.2.0/24  # trailing\n\n2001:db8::/32\n"},
      {"bad.txt", "10.0.0.0/8\n10.0.0.1/8\nnot-a-prefix\n"},
      {"empty.txt", "# nothing here\n\n"},
  };
  for (const auto& [name, text] : files) {
    std::string path = std::string(kSandbox) + "/" + name;
    std::ofstream(path) << text;
    g_files.push_back(path);
  }
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) b++;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) e--;
  return s.substr(b, e - b);
}

// False if some scalar is a `file:` reference outside the sandbox.
bool files_ok(const YAML::Node& n, int depth) {
  if (depth > 64) return false;  // pathological nesting: not worth the check, skip the input
  switch (n.Type()) {
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (s.compare(0, 5, "file:") != 0) return true;
      std::string path = trim(s.substr(5));
      for (const auto& f : g_files)
        if (path == f) return true;
      return false;
    }
    case YAML::NodeType::Sequence:
    case YAML::NodeType::Map:
      for (auto it = n.begin(); it != n.end(); ++it) {
        if (n.IsMap()) {
          if (!files_ok(it->first, depth + 1) || !files_ok(it->second, depth + 1)) return false;
        } else if (!files_ok(*it, depth + 1)) {
          return false;
        }
      }
      return true;
    default:
      return true;
  }
}

// yaml-cpp 0.7 (Debian 12) has a known endless loop in YAML::LoadAll: on
// some malformed streams (the smallest is ","), HandleNextDocument keeps
// returning true with an empty document, and LoadAll appends null nodes
// until memory runs out (jbeder/yaml-cpp#1040, fixed upstream by PR #1319,
// after 0.8.0). parse_config calls LoadAll, so `wanlb check`/`run` on such
// a file hangs. That is not wanlb's parser logic; to keep fuzzing it, inputs
// that would loop are detected here with a bounded walk of the same
// document events and skipped (counted in g_loadall_loops).
struct NullHandler : YAML::EventHandler {
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};
size_t g_loadall_loops = 0;
size_t g_nul_messages = 0;

bool loadall_would_loop(const std::string& text) {
  std::stringstream in(text);
  NullHandler h;
  try {
    YAML::Parser parser(in);
    for (int docs = 0; docs < 1000; docs++)
      if (!parser.HandleNextDocument(h)) return false;
  } catch (const YAML::Exception&) {
    return false;
  }
  return true;  // 1000 documents from a few KB: the endless loop
}

// "<prefix><digits>: <non-empty>"
bool well_formed(const std::string& msg, const std::string& prefix) {
  if (msg.compare(0, prefix.size(), prefix) != 0) return false;
  size_t i = prefix.size(), d = i;
  while (i < msg.size() && std::isdigit(static_cast<unsigned char>(msg[i]))) i++;
  if (i == d || i - d > 9) return false;
  if (std::stol(msg.substr(d, i - d)) < 1) return false;  // lines are 1-based
  if (msg.compare(i, 2, ": ") != 0) return false;
  return trim(msg.substr(i + 2)).size() > 0;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  write_sandbox();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return -1;
  const std::string text(reinterpret_cast<const char*>(data), size);
  if (loadall_would_loop(text)) {
    if (++g_loadall_loops == 1)
      std::fprintf(stderr, "fuzz_config: skipping inputs on which yaml-cpp's LoadAll loops (yaml-cpp#1040)\n");
    return -1;
  }
  if (text.find("file") != std::string::npos || text.find('\\') != std::string::npos) {
    // Only then can a `file:` scalar exist (escapes can spell it).
    try {
      for (const auto& doc : YAML::LoadAll(text))
        if (!files_ok(doc, 0)) return -1;
    } catch (const YAML::Exception&) {
      // parse_config fails on the same text before reading any file.
    }
  }
  try {
    wanlb::Config cfg = wanlb::parse_config(text, "fuzz.yaml");
    // Accepted: the validated ranges the rest of the agent relies on.
    if (cfg.wans.empty() || cfg.wans.size() > WANLB_MAX_WANS) violation("accepted a config with bad WAN count");
    if (cfg.lan.empty()) violation("accepted a config without lan");
    if (cfg.policies.size() > WANLB_MAX_POLICIES) violation("accepted too many policies");
    if (cfg.mark_mask == 0) violation("accepted mark_mask 0");
    for (const auto& w : cfg.wans) {
      if (w.weight < 1 || w.weight > 1000) violation("accepted weight " + std::to_string(w.weight));
      if (w.id < 1 || w.id > WANLB_MAX_WANS) violation("WAN id out of range");
      if (w.mark == 0 || (w.mark & ~cfg.mark_mask)) violation("WAN mark outside mark_mask");
    }
    for (const auto& p : cfg.policies)
      if (p.ports.size() > WANLB_POLICY_MAX_PORTS || p.wan_ids.size() > WANLB_POLICY_MAX_WANS)
        violation("accepted a policy beyond the data path's limits");
  } catch (const wanlb::ConfigError& e) {
    const std::string msg = e.what();
    bool ok = well_formed(msg, "fuzz.yaml:");
    for (const auto& f : g_files) ok = ok || well_formed(msg, f + ":");
    if (!ok && msg.compare(0, 10, "fuzz.yaml:") == 0 && (text.find('\0') != std::string::npos || text.find('\\') != std::string::npos) &&
        trim(msg.substr(msg.find(": ") == std::string::npos ? msg.size() : msg.find(": ") + 1)).empty()) {
      // Known issue (docs/fuzzing.md): the key path is the raw key text;
      // a key holding a NUL byte (raw or as the YAML escape "\0") ends the
      // C string what() returns, and the message shrinks to
      // "fuzz.yaml:N: ". Reported, tolerated here to keep fuzzing.
      if (++g_nul_messages == 1)
        std::fprintf(stderr, "fuzz_config: known issue seen: NUL in a key truncates the ConfigError message\n");
      return 0;
    }
    if (!ok) violation("ConfigError message not '<file>:<line>: ...': \"" + msg + "\"");
  } catch (const std::exception& e) {
    violation(std::string("exception other than ConfigError: ") + typeid(e).name() + ": " + e.what());
  } catch (...) {
    violation("non-std exception escaped parse_config");
  }
  return 0;
}
