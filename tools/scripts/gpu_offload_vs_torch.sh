#!/usr/bin/env bash
# Issue 6, "against PyTorch on the same GPU and budget": on one GPU, PyTorch's double-buffered
# weight streaming (torch_offload_llama.py) of the 4-layer model of configs/offload-llama.yaml, and
# doppler's offload of the same model on the GPU with PyTorch's peak memory as the budget (and the
# 8-way model's 100% working set, 369,885,184 bytes), lookahead order, event-driven and fixed, R
# repetitions each, for several decompositions of the model: EinDecomp for 8 (the offload configs'),
# EinDecomp for 4 and data parallel for 4 (coarser blocks: fewer, larger copies and kernels). The
# two are interleaved in ROUNDS rounds (PyTorch, every decomposition, ..., PyTorch) so that the
# machine's drift shows; each doppler figure is compared with the PyTorch runs on either side.
# Usage (GPU machine, doppler built with the hw backend):
#   [MACHINE=configs/machines/h200-1-calibrated.yaml] tools/scripts/gpu_offload_vs_torch.sh DOPPLER OUT [R] [ROUNDS]
# MACHINE is the machine file the simulated figures use (default h100-1-calibrated-eager.yaml).
# FUSED=1 runs doppler's model fused (`fuse: true`: softmax/RMSNorm/rotary row ops, maps inlined);
# PyTorch's side is the same either way.
set -eu
doppler=$1
out=$2
reps=${3:-3}
rounds=${4:-2}
mkdir -p "$out"
python3 tools/scripts/torch_offload_llama.py >"$out/torch_0.json"
peak=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['peak_bytes'])" "$out/torch_0.json")
declare -A decompositions=(
  [eindecomp8]="method: eindecomp, devices: 8"
  [eindecomp4]="method: eindecomp, devices: 4"
  [data4]="method: data, devices: 4"
)
for name in "${!decompositions[@]}"; do
  sed -e "s/^name: .*/name: offload_llama_vs_torch_$name/" \
      -e "s/^decompose: .*/decompose: {${decompositions[$name]}}/" \
      -e "s/^  budget_bytes: .*/  budget_bytes: [$peak, 369885184]/" \
      -e "s/^  bandwidths: .*/  bandwidths: [53e9]/" \
      -e "s#^machine: .*#machine: $PWD/${MACHINE:-configs/machines/h100-1-calibrated-eager.yaml}#" \
      -e "$([ "${FUSED:-0}" = 1 ] && echo 's/dtype: bf16}/dtype: bf16, fuse: true}/' || echo 's/^//')" \
      configs/offload-llama-lookahead.yaml >"$out/offload-vs-torch-$name.yaml"
done
for round in $(seq 1 "$rounds"); do
  for name in data4 eindecomp4 eindecomp8; do
    "$doppler" offload "$out/offload-vs-torch-$name.yaml" --gpu --repetitions "$reps" --json \
      >"$out/doppler_${name}_$round.json"
  done
  python3 tools/scripts/torch_offload_llama.py >"$out/torch_$round.json"
done
python3 - "$out" "$rounds" <<'PY'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
torch = [json.load(open(f"{out}/torch_{r}.json"))["median_ms"] for r in range(rounds + 1)]
print("pytorch, in order: " + ", ".join("%.2f ms" % t for t in torch) + "; peak %.0f MB"
      % (json.load(open(f"{out}/torch_0.json"))["peak_bytes"] / 1e6))
for r in range(1, rounds + 1):
    around = (torch[r - 1] + torch[r]) / 2
    for name in ("data4", "eindecomp4", "eindecomp8"):
        d = json.load(open(f"{out}/doppler_{name}_{r}.json"))
        for x in d["results"]:
            print("round %d %-10s budget %5.0f MB %-5s measured %6.2f ms simulated %6.2f ms  / pytorch around %.3f"
                  % (r, name, x["budget_bytes"] / 1e6, x["order"], x["measured"] * 1e3, x["makespan"] * 1e3,
                     x["measured"] * 1e3 / around))
PY
