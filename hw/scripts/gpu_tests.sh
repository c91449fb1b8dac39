#!/usr/bin/env bash
# Runs the hw GPU test binaries in DIR (default .hwrun) on a GPU machine and writes one log per test
# binary and a summary into OUT (default ./out). DIR may also hold shared libraries the binaries
# need (libyaml-cpp); cuBLAS is taken from the CUDA toolkit or from PyTorch's wheels, NCCL from
# wherever libnccl.so.2 is (multi-process test).
set -u
dir=${1:-.hwrun}
out=${OUT:-./out}
mkdir -p "$out"
cublas=$(ls -d /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib 2>/dev/null | head -1)
if ! ls "$cublas"/libcublas.so.13 >/dev/null 2>&1; then
  cublas=$(dirname "$(find / -name 'libcublas.so.13' -not -path '*/proc/*' 2>/dev/null | head -1)")
fi
nccl=$(dirname "$(find / -name 'libnccl.so.2' -not -path '/proc/*' 2>/dev/null | head -1)")
export LD_LIBRARY_PATH="$PWD/$dir:$cublas:$nccl:${LD_LIBRARY_PATH:-}"
{
  nvidia-smi -L
  nvidia-smi topo -m 2>/dev/null | head -5
  echo "cuBLAS from: $cublas"
} >"$out/device.txt" 2>&1
status=0
for test in "$dir"/hw_*_test; do
  name=$(basename "$test")
  start=$(date +%s.%N)
  "$test" --gtest_brief=0 >"$out/$name.log" 2>&1
  rc=$?
  [ $rc -ne 0 ] && status=1
  printf '%-24s rc=%d %6.1fs %s\n' "$name" $rc "$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{print e-s}')" \
    "$(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$out/$name.log" | tr '\n' ' ')" | tee -a "$out/summary.txt"
done
exit $status
