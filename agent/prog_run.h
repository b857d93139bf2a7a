// One BPF_PROG_TEST_RUN of a loaded tc program on a frame. For the tests,
// the fuzzer and the benchmarks (the agent itself never runs programs):
// one place for the __sk_buff context the kernel accepts and gives back.
#pragma once

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstdint>
#include <vector>

namespace wanlb {

struct SkbRun {
  int err = 0;              // 0, or -errno when the kernel refused to run it
  uint32_t retval = 0;      // the program's verdict
  uint32_t mark = 0;        // skb->mark afterwards
  uint32_t duration_ns = 0; // mean per repetition, as the kernel measured it
};

inline SkbRun run_skb(int prog_fd, const std::vector<uint8_t>& frame, uint32_t mark_in = 0, uint32_t repeat = 1) {
  __sk_buff ctx{};
  ctx.mark = mark_in;  // one of the few __sk_buff fields test_run accepts
  LIBBPF_OPTS(bpf_test_run_opts, opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.ctx_in = &ctx;
  opts.ctx_size_in = sizeof ctx;
  opts.ctx_out = &ctx;
  opts.ctx_size_out = sizeof ctx;
  opts.repeat = static_cast<int>(repeat);
  SkbRun r;
  r.err = bpf_prog_test_run_opts(prog_fd, &opts) ? -errno : 0;
  r.retval = opts.retval;
  r.mark = ctx.mark;
  r.duration_ns = opts.duration;
  return r;
}

}  // namespace wanlb
