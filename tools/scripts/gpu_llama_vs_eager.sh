#!/usr/bin/env bash
# The Llama layer on one GPU: PyTorch eager against doppler (the graph as built, and fused: row-op
# kernels plus elementwise fusion), ROUNDS interleaved rounds (default 5), one JSON per run under OUT
# (default ./out), then a table. SIZE `small` (default: b 2, s 1024, h 2048, 16 heads, bf16;
# configs/einsum/gpu/llama_layer_1gpu{,_fused}.yaml) or `large` (b 8, s 2048, h 4096, 32 heads;
# llama_layer_large_1gpu{,_fused}.yaml).
# Usage: tools/scripts/gpu_llama_vs_eager.sh [DOPPLER_BINARY] [ROUNDS] [SIZE]
set -u
doppler=${1:-build/bin/doppler}
rounds=${2:-5}
size=${3:-small}
out=${OUT:-./out}
case "$size" in
  small) sizes="--batch 2 --seq 1024 --hidden 2048 --heads 16"; iterations=50; reps=21
         config=configs/einsum/gpu/llama_layer_1gpu ;;
  large) sizes="--batch 8 --seq 2048 --hidden 4096 --heads 32"; iterations=20; reps=11
         config=configs/einsum/gpu/llama_layer_large_1gpu ;;
  *) echo "gpu_llama_vs_eager.sh: SIZE must be small or large, not '$size'" >&2; exit 2 ;;
esac
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  python3 tools/scripts/torch_llama_layer.py $sizes --iterations $iterations --warmup 5 >"$out/eager_$r.json"
  "$doppler" execute "$config.yaml" --repetitions $reps --json >"$out/doppler_$r.json"
  "$doppler" execute "${config}_fused.yaml" --repetitions $reps --json >"$out/fused_$r.json"
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
