#!/usr/bin/env bash
# Speed of the `paper` model against the Doppler paper's own SimPy simulator, measured in one run
# on the same machine (median of 5 runs each side), per paper graph on 4 devices.
# usage: tools/bench/paper_speedup.sh [DOPPLER_BINARY] [REFERENCE_PLACEMENTS]
# needs: /usr/bin/python3 with python3-simpy3 and python3-networkx (Debian).
set -euo pipefail
cd "$(dirname "$0")/../.."
doppler=${1:-build/bin/doppler}
placements=${2:-200}
dir=configs/workloads/doppler-paper
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf "%-36s %14s %14s %10s\n" graph "simpy_ms" "doppler_us" "speedup"
for g in chain_mm_112nodes ffnn_192nodes transformer_block_215nodes full_transformer_layer_261nodes; do
  ref=$(for _ in 1 2 3 4 5; do
          /usr/bin/python3 $dir/reference_sim.py $dir/$g.txt 4 "$placements" 1 2>&1 >/dev/null |
            awk '{print $1}'
        done | median)
  ours=$(for _ in 1 2 3 4 5; do
           "$doppler" bench sim --graph $dir/$g.txt --devices 4 --episodes 20000 --model paper --json |
             python3 -c 'import json,sys; print(json.load(sys.stdin)["us_per_placement"])'
         done | median)
  awk -v g="$g" -v r="$ref" -v o="$ours" 'BEGIN { printf "%-36s %14.3f %14.3f %9.0fx\n", g, r, o, r * 1000 / o }'
done
