#!/usr/bin/env bash
# GPU session (issue 4): the hw GPU tests, the hw benchmarks, the Llama layer against PyTorch eager
# (three interleaved rounds), then traced runs of the four einsum workloads on 1, 2 and 4 GPUs, as
# many as the machine has (heuristic placements + random ones; 5 interleaved rounds of 3 timed runs
# each, the median of the 15 recorded, with the host's launch times in launches.csv).
# Binaries come from .hwrun/ (doppler, hw_*_test, doppler_hw_bench, libyaml-cpp, libmetis), built
# on the dev machine with the CUDA toolkit (build-hw). Everything lands in $OUT/w.tar.gz.
# Usage: cp tools/scripts/gpu_collect_traces.sh .hwrun/collect.sh; run `bash .hwrun/collect.sh`
# through the device tool with carry [".hwrun"]. TRACES_ONLY=1 skips the tests and the PyTorch
# rounds (benchmarks and traces only). GPU=h200 names the trace folders h200-Ngpu (default h100) and
# points the einsum configs at configs/machines/GPU-N.yaml (the datasheet machine the heuristics
# place for). The archive is rewritten after each workload, so a call cut short still returns what
# was recorded.
set -u
out=${OUT:-./out}
w=$out/w
mkdir -p "$w"
touch "$w/summary.txt"
[ "${TRACES_ONLY:-0}" = 1 ] || OUT=$w bash hw/scripts/gpu_tests.sh .hwrun >/dev/null
cublas=$(ls -d /usr/local/cuda/lib64 2>/dev/null | head -1)
nccl=$(dirname "$(find / -name 'libnccl.so.2' -not -path '/proc/*' 2>/dev/null | head -1)")
export LD_LIBRARY_PATH="$PWD/.hwrun:$cublas:$nccl:${LD_LIBRARY_PATH:-}"
D=.hwrun/doppler
gpu=${GPU:-h100}
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
[ "$gpu" = h100 ] || sed -i "s#machines/h100-#machines/$gpu-#" configs/einsum/gpu/*.yaml
{ nvidia-smi -L; nvidia-smi topo -m; } >"$w/gpus.txt" 2>&1
if grep -q "FAILED" "$w/summary.txt"; then
  cat "$w/summary.txt"
  tar czf "$out/w.tar.gz" -C "$out" w
  exit 1
fi
{
  .hwrun/doppler_hw_bench overhead --tasks 2000
  .hwrun/doppler_hw_bench gemm --n 8192 --length 8 --dtype bf16
  .hwrun/doppler_hw_bench gemm --n 4096 --length 8 --dtype bf16
} >"$w/bench.txt" 2>&1
for r in $([ "${TRACES_ONLY:-0}" = 1 ] || echo 1 2 3); do
  python3 tools/scripts/torch_llama_layer.py --batch 2 --seq 1024 --hidden 2048 --heads 16 >"$w/torch$r.json" 2>&1
  $D execute configs/einsum/gpu/llama_layer_1gpu.yaml --placements critical_path --repetitions 7 --json >"$w/d1_$r.json" 2>&1
  $D execute configs/einsum/gpu/llama_layer.yaml --placements critical_path,eindecomp --repetitions 7 --json \
    >"$w/d2_$r.json" 2>&1
done
t=$w/traces
mkdir -p "$t"
P=critical_path,heft,etf,eindecomp,round_robin,metis
for c in chain_mm ffnn llama_block llama_layer; do
  timeout 50 $D execute configs/einsum/gpu/${c}_1gpu.yaml --placements critical_path,heft,eindecomp --random 2 \
    --rounds 5 --repetitions 3 --trace "$t/$gpu-1gpu" --json >"$t/${c}_1gpu.json" 2>"$t/${c}_1gpu.err"
  echo "$c 1gpu rc=$?" >>"$w/collect.txt"
  if [ "$gpus" -ge 2 ]; then
    timeout 70 $D execute configs/einsum/gpu/$c.yaml --placements $P --random 16 --rounds 5 --repetitions 3 \
      --trace "$t/$gpu-2gpu" --json >"$t/${c}_2gpu.json" 2>"$t/${c}_2gpu.err"
    echo "$c 2gpu rc=$?" >>"$w/collect.txt"
  fi
  if [ "$gpus" -ge 4 ]; then
    timeout 70 $D execute configs/einsum/gpu/${c}_4gpu.yaml --placements $P --random 16 --rounds 5 --repetitions 3 \
      --trace "$t/$gpu-4gpu" --json >"$t/${c}_4gpu.json" 2>"$t/${c}_4gpu.err"
    echo "$c 4gpu rc=$?" >>"$w/collect.txt"
  fi
  tar czf "$out/w.tar.gz" -C "$out" w
done
tar czf "$out/w.tar.gz" -C "$out" w
cat "$w/summary.txt" "$w/bench.txt" "$w/collect.txt"
