#!/usr/bin/env bash
# Build the libFuzzer harnesses with clang++ into BUILD_DIR/fuzz/.
#
#   tests/fuzz/build.sh [BUILD_DIR]      (default: build)
#
# The project itself builds with g++; libFuzzer needs clang's
# -fsanitize=fuzzer. Rather than a second CMake tree with another compiler,
# this script compiles the few agent sources the harnesses need, plus the
# harnesses, directly with clang++ -fsanitize=fuzzer,address,undefined,
# against the bpftool-generated skeleton of the main build
# (BUILD_DIR/bpf/wanlb_tc.skel.h, made by `cmake --build BUILD_DIR
# --target wanlb_tc_skel` if missing). Objects are rebuilt only when a
# source is newer.
#
# Exit: 0 built, 77 clang++/libFuzzer unavailable, 1 build error.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${1:-build}
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
OUT=$BUILD/fuzz
OBJ=$OUT/obj
mkdir -p "$OBJ"

CXX=${FUZZ_CXX:-clang++}
if ! command -v "$CXX" >/dev/null; then
  echo "fuzz/build.sh: $CXX not found" >&2
  exit 77
fi
# libFuzzer ships with clang's compiler-rt (Debian: libclang-rt-14-dev or
# the clang package itself). Probe it once.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' >"$probe/p.cpp"
if ! "$CXX" -fsanitize=fuzzer,address,undefined "$probe/p.cpp" -o "$probe/p" 2>"$probe/err"; then
  echo "fuzz/build.sh: $CXX -fsanitize=fuzzer does not link (libFuzzer missing?):" >&2
  cat "$probe/err" >&2
  exit 77
fi

SKEL=$BUILD/bpf/wanlb_tc.skel.h
if [ ! -f "$SKEL" ] || [ "$SKEL" -ot "$SRC/bpf/wanlb_tc.bpf.c" ]; then
  if [ -f "$BUILD/CMakeCache.txt" ]; then
    cmake --build "$BUILD" --target wanlb_tc_skel >&2
  fi
fi
if [ ! -f "$SKEL" ]; then
  echo "fuzz/build.sh: $SKEL missing: configure and build the project first (cmake -S . -B $BUILD)" >&2
  exit 1
fi

HTTPLIB_CFLAGS=$(pkg-config --cflags cpp-httplib libnl-3.0 libnl-route-3.0 libnl-nf-3.0 libnftables libbpf)
CXXFLAGS=(-std=c++17 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined
          -fno-sanitize-recover=undefined
          -I"$SRC/include" -I"$SRC/agent" -I"$SRC/tests" -I"$SRC/tests/fuzz" -I"$BUILD/bpf"
          -DWANLB_VERSION=\"fuzz\" $HTTPLIB_CFLAGS)
# Everything the agent archive may pull in (only referenced objects are linked).
LIBS=($(pkg-config --libs libbpf libnl-3.0 libnl-route-3.0 libnl-nf-3.0 libnftables cpp-httplib)
      -lyaml-cpp -lspdlog -lfmt -lssl -lcrypto -lz -lbrotlidec -lbrotlienc -lpthread)

# compile SRC OBJNAME: rebuild when the source or any header we know of is newer.
deps_stamp=$(ls -t "$SRC"/agent/*.h "$SRC"/include/wanlb/*.h "$SRC"/tests/fuzz/*.h "$SRC"/tests/datapath/*.h "$SKEL" | head -1)
compile() {
  local src=$1 obj=$OBJ/$2.o
  if [ ! -f "$obj" ] || [ "$obj" -ot "$src" ] || [ "$obj" -ot "$deps_stamp" ]; then
    echo "  CXX $2" >&2
    "$CXX" "${CXXFLAGS[@]}" -c "$src" -o "$obj" || { rm -f "$obj"; echo "fuzz/build.sh: compiling $src failed" >&2; exit 1; }
  fi
  echo "$obj"
}

# Every agent source but main.cpp goes into one archive, instrumented; the
# linker pulls only the objects the harnesses reach (config.cpp and what it
# calls; datapath/map_io/policy_maps/slot_table for the data path). Taking
# the whole directory keeps this script right when agent files gain
# dependencies on each other. Compiled in parallel.
jobs_max=$(nproc)
agent_objs=()
failed=0
for src in "$SRC"/agent/*.cpp; do
  base=$(basename "$src" .cpp)
  [ "$base" = main ] && continue
  obj=$OBJ/agent_$base.o
  agent_objs+=("$obj")
  if [ ! -f "$obj" ] || [ "$obj" -ot "$src" ] || [ "$obj" -ot "$deps_stamp" ]; then
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || failed=1; done
    echo "  CXX agent/$base.cpp" >&2
    ( "$CXX" "${CXXFLAGS[@]}" -c "$src" -o "$obj" || { rm -f "$obj"; exit 1; } ) &
  fi
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || failed=1; done
wait || failed=1
for o in "${agent_objs[@]}"; do [ -f "$o" ] || failed=1; done
if [ "$failed" != 0 ]; then echo "fuzz/build.sh: compiling agent sources failed" >&2; exit 1; fi
ARCHIVE=$OUT/libwanlb_fuzz_core.a
newest=$(ls -t "${agent_objs[@]}" | head -1)
if [ ! -f "$ARCHIVE" ] || [ "$ARCHIVE" -ot "$newest" ]; then
  rm -f "$ARCHIVE"
  ar rcs "$ARCHIVE" "${agent_objs[@]}"
fi
pb_obj=$(compile "$SRC/tests/datapath/packet_builder.cpp" packet_builder)
cfg_obj=$(compile "$SRC/tests/fuzz/fuzz_config.cpp" fuzz_config)
dp_obj=$(compile "$SRC/tests/fuzz/fuzz_datapath.cpp" fuzz_datapath)
for o in "$pb_obj" "$cfg_obj" "$dp_obj"; do
  [ -f "$o" ] || { echo "fuzz/build.sh: build failed" >&2; exit 1; }
done

link() {
  local name=$1; shift
  local out=$OUT/$name
  local newest
  newest=$(ls -t "$@" | head -1)
  if [ ! -x "$out" ] || [ "$out" -ot "$newest" ]; then
    echo "  LD  $name" >&2
    "$CXX" -fsanitize=fuzzer,address,undefined "$@" -o "$out" "${LIBS[@]}"
  fi
}

cfg_obj=$(compile "$SRC/tests/fuzz/fuzz_config.cpp" fuzz_config)
dp_obj=$(compile "$SRC/tests/fuzz/fuzz_datapath.cpp" fuzz_datapath)
for o in "${common[@]}" "${dp[@]}" "$cfg_obj" "$dp_obj"; do
  [ -f "$o" ] || { echo "fuzz/build.sh: build failed" >&2; exit 1; }
done
link fuzz_config "$cfg_obj" "$ARCHIVE"
link fuzz_datapath "$dp_obj" "$pb_obj" "$ARCHIVE"
# The seed generator: a plain program (no sanitizers needed).
if [ ! -x "$OUT/make_seeds" ] || [ "$OUT/make_seeds" -ot "$SRC/tests/fuzz/make_seeds.cpp" ] ||
   [ "$OUT/make_seeds" -ot "$SRC/tests/fuzz/frames.h" ]; then
  echo "  LD  make_seeds" >&2
  "$CXX" -std=c++17 -O1 -I"$SRC/include" -I"$SRC/tests" -I"$SRC/tests/fuzz" \
    "$SRC/tests/fuzz/make_seeds.cpp" "$SRC/tests/datapath/packet_builder.cpp" -o "$OUT/make_seeds"
fi
echo "fuzz/build.sh: harnesses in $OUT" >&2
