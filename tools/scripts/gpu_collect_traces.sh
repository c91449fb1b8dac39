#!/usr/bin/env bash
# GPU session: verify a training step, then record traced runs of 4 workloads on 2 GPUs.
set -u
out=${OUT:-./out}
cublas=$(ls -d /usr/local/cuda/lib64 2>/dev/null | head -1)
ls "$cublas"/libcublas.so.13 >/dev/null 2>&1 || cublas=$(dirname "$(find / -name 'libcublas.so.13' -not -path '*/proc/*' 2>/dev/null | head -1)")
export LD_LIBRARY_PATH="$PWD/.hwrun:$cublas:${LD_LIBRARY_PATH:-}"
D=.hwrun/doppler
nvidia-smi -L > "$out/device.txt" 2>&1
{ time $D execute configs/einsum/gpu/verify_small.yaml --placements critical_path,round_robin,eindecomp --verify --repetitions 1; } > "$out/verify.txt" 2>&1
mkdir -p traces
for c in chain_mm ffnn llama_block llama_layer; do
  timeout 120 $D execute configs/einsum/gpu/$c.yaml --placements critical_path,heft,etf,eindecomp,round_robin,metis \
    --random 16 --repetitions 5 --trace traces/h100-2gpu --json > "traces/$c.json" 2> "traces/$c.err"
  echo "$c rc=$?" >> "$out/verify.txt"
done
tar czf "$out/traces.tar.gz" traces
python3 tools/scripts/torch_llama_layer.py --batch 2 --seq 1024 --hidden 2048 --heads 16 > "$out/torch.json" 2>&1
$D execute configs/einsum/gpu/llama_layer.yaml --placements critical_path,eindecomp --repetitions 5 --json > "$out/doppler_llama.json" 2>&1
cat "$out/verify.txt"
