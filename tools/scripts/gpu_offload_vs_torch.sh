#!/usr/bin/env bash
# Issue 6, "against PyTorch on the same GPU and budget": on one GPU, PyTorch's double-buffered
# weight streaming (torch_offload_llama.py) of the 4-layer model of configs/offload-llama.yaml,
# then doppler's offload of the same model on the GPU with PyTorch's peak memory as the budget
# (and the model's 100% working set), lookahead order, event-driven and fixed, R repetitions.
# Usage (GPU machine, doppler built with the hw backend): tools/scripts/gpu_offload_vs_torch.sh DOPPLER OUT [R]
set -eu
doppler=$1
out=$2
reps=${3:-3}
mkdir -p "$out"
python3 tools/scripts/torch_offload_llama.py >"$out/torch.json"
peak=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['peak_bytes'])" "$out/torch.json")
sed -e "s/^name: .*/name: offload_llama_vs_torch/" \
    -e "s/^  budget_bytes: .*/  budget_bytes: [$peak, 369885184]/" \
    -e "s/^  bandwidths: .*/  bandwidths: [53e9]/" \
    -e "s#^machine: .*#machine: $PWD/configs/machines/h100-1-calibrated-eager.yaml#" \
    configs/offload-llama-lookahead.yaml >"$out/offload-vs-torch.yaml"
"$doppler" offload "$out/offload-vs-torch.yaml" --gpu --repetitions "$reps" --json >"$out/doppler.json"
python3 tools/scripts/torch_offload_llama.py >"$out/torch_after.json"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
torch = [json.load(open(f"{out}/{f}")) for f in ("torch.json", "torch_after.json")]
d = json.load(open(f"{out}/doppler.json"))
t = sorted(x["median_ms"] for x in torch)
print("pytorch: %.2f / %.2f ms (before / after doppler), peak %.0f MB" % (torch[0]["median_ms"], torch[1]["median_ms"], torch[0]["peak_bytes"] / 1e6))
for r in d["results"]:
    print("doppler budget %.0f MB %-5s measured %.2f ms simulated %.2f ms  measured / pytorch %.3f" % (
        r["budget_bytes"] / 1e6, r["order"], r["measured"] * 1e3, r["makespan"] * 1e3, r["measured"] * 1e3 / t[0]))
PY
