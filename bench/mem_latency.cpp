// wanlb-bench-memlat: what one random memory access costs on this machine,
// by working-set size and page size. docs/benchmarks.md uses it to explain
// the flow-table lookup's cost on the development VM (a lookup is a bucket
// and an element at random places in a table of megabytes).
//
// A pointer chase: every access depends on the previous one, so the time per
// access is the latency, not the bandwidth. For each size it walks one
// random cycle through
//   - one line per 4 KiB page ("page stride": mostly TLB misses; few lines),
//   - every 64-byte line ("line stride": TLB and cache misses),
// once in memory advised MADV_NOHUGEPAGE (4 KiB pages) and once advised
// MADV_HUGEPAGE (2 MiB pages where transparent huge pages are available;
// the "huge" column says how much of it really was). Only its own memory.
//
// Usage: wanlb-bench-memlat [MiB ...]   (default: 1 4 8 16 64)
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {

constexpr size_t kHuge = 2u << 20;
constexpr size_t kSteps = 20'000'000;

// AnonHugePages of this process, in KiB (what THP actually backed).
long anon_huge_kib() {
  std::ifstream f("/proc/self/smaps_rollup");
  std::string key;
  long v = 0;
  while (f >> key) {
    if (key == "AnonHugePages:") {
      f >> v;
      return v;
    }
  }
  return -1;
}

struct Result {
  double ns;
  long huge_kib;
};

Result chase(size_t bytes, size_t stride, bool huge) {
  void* raw = mmap(nullptr, bytes + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    std::perror("mmap");
    std::exit(1);
  }
  // 2 MiB-aligned, so a huge page can back it from the first byte.
  char* p = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(raw) + kHuge - 1) & ~(kHuge - 1));
  madvise(p, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  const size_t n = bytes / stride;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::shuffle(order.begin(), order.end(), std::mt19937_64(1));
  for (size_t i = 0; i < n; i++)
    *reinterpret_cast<char**>(p + order[i] * stride) = p + order[(i + 1) % n] * stride;
  long huge_kib = anon_huge_kib();

  char* q = p + order[0] * stride;
  for (size_t i = 0; i < n; i++) q = *reinterpret_cast<char**>(q);  // warm up: fault in, fill caches
  auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < kSteps; i++) q = *reinterpret_cast<char**>(q);
  auto t1 = std::chrono::steady_clock::now();
  if (q == nullptr) std::puts("");  // keeps the chase from being optimised away
  munmap(raw, bytes + kHuge);
  return {std::chrono::duration<double, std::nano>(t1 - t0).count() / kSteps, huge_kib};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes_mib;
  for (int i = 1; i < argc; i++) {
    long v = std::strtol(argv[i], nullptr, 10);
    if (v < 1 || v > 4096) {
      std::fprintf(stderr, "wanlb-bench-memlat: sizes are 1..4096 MiB, got '%s'\n", argv[i]);
      return 2;
    }
    sizes_mib.push_back(static_cast<size_t>(v));
  }
  if (sizes_mib.empty()) sizes_mib = {1, 4, 8, 16, 64};
  std::printf("%8s %-12s %14s %14s %8s %12s\n", "MiB", "stride", "4KiB pages ns", "THP ns", "ratio", "THP backed");
  for (size_t mib : sizes_mib) {
    for (size_t stride : {size_t{4096}, size_t{64}}) {
      Result small = chase(mib << 20, stride, false);
      Result big = chase(mib << 20, stride, true);
      std::printf("%8zu %-12s %14.1f %14.1f %7.2fx %9ld KiB\n", mib, stride == 4096 ? "page (4KiB)" : "line (64B)",
                  small.ns, big.ns, big.ns / small.ns, big.huge_kib);
    }
  }
  return 0;
}
