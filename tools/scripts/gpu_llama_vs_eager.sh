#!/usr/bin/env bash
# Llama layer (b 2, s 1024, h 2048, 16 heads, bf16) on one GPU: PyTorch eager against doppler (the
# graph as built, and with elementwise fusion: llama_layer_1gpu_fused.yaml), ROUNDS interleaved rounds
# (default 5), one JSON per run under OUT (default ./out), then a table.
# Usage: tools/scripts/gpu_llama_vs_eager.sh [DOPPLER_BINARY] [ROUNDS]
set -u
doppler=${1:-build/bin/doppler}
rounds=${2:-5}
out=${OUT:-./out}
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  python3 tools/scripts/torch_llama_layer.py --batch 2 --seq 1024 --hidden 2048 --heads 16 --iterations 50 \
    --warmup 5 >"$out/eager_$r.json"
  "$doppler" execute configs/einsum/gpu/llama_layer_1gpu.yaml --repetitions 21 --json >"$out/doppler_$r.json"
  "$doppler" execute configs/einsum/gpu/llama_layer_1gpu_fused.yaml --repetitions 21 --json >"$out/fused_$r.json"
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
eager, ours, fused = [], [], []
print("| round | PyTorch eager | doppler | doppler / eager | doppler fused | fused / eager |\n|---|---|---|---|---|---|")
for r in range(1, rounds + 1):
    e = json.load(open(f"{out}/eager_{r}.json"))["median_ms"]
    d = json.load(open(f"{out}/doppler_{r}.json"))["results"][0]["makespan_ms"]
    f = json.load(open(f"{out}/fused_{r}.json"))["results"][0]["makespan_ms"]
    eager.append(e); ours.append(d); fused.append(f)
    print(f"| {r} | {e:.3f} ms | {d:.3f} ms | {d / e:.3f} | {f:.3f} ms | {f / e:.3f} |")
e, d, f = statistics.median(eager), statistics.median(ours), statistics.median(fused)
print(f"| median | {e:.3f} ms | {d:.3f} ms | {d / e:.3f} | {f:.3f} ms | {f / e:.3f} |")
PY
