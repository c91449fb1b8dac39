#!/usr/bin/env python3
"""Tie-heavy test vectors for the `paper` simulator (sim/src/paper_engine.cpp).

The paper's SimPy simulator breaks ties between same-time events by SimPy's event order; the four
paper graphs have few ties, so this script makes graphs that have many: small integer costs drawn
from per-graph palettes (comp 0..4, comm 0..3) that are mostly zero-heavy -- zero comp and zero
comm chain whole cascades of events into one instant, which is where a wrong event order changes
a makespan (uniform costs tie a lot too, but symmetrically) -- wide layered graphs (many ready ops
per device) and random DAGs with fan-in and fan-out > 1, explicit diamonds, broadcasts, gathers,
several sources, one edgeless graph, repeated edge pairs (one dependency; copies go anywhere in
the edge list), op ids shuffled so that id order is not a topological order, shuffled edge order,
and varied separators / optype columns. Graph sizes run from 5 to 120 ops. Costs stay integers:
reference_sim.py reads numbers with the regex \\d+, so every makespan it prints is an integer
(str(int)), "0" included -- the same text as doppler::format_number.

For every graph and device count NDEV it runs the reference, exactly as documented there:
    /usr/bin/python3 configs/workloads/doppler-paper/reference_sim.py GRAPH NDEV K SEED
(Debian python3-simpy3 + python3-networkx; the pyenv `python3` on PATH lacks simpy). NDEV = 1
gets K = 1 (every single-device placement is the same), the other counts K = --placements.

Writes into --out, after deleting its earlier ties_* files:
    ties_NN.txt                       the graph, Doppler-paper text format
    ties_NN.<NDEV>dev.reference.tsv   placement<TAB>makespan, one line per placement
tests/paper_ties_test.cpp checks every such file; its live test calls this script with a fresh seed.

usage:
    tools/scripts/make_tie_vectors.py                      # regenerate tests/golden/paper-ties/
    tools/scripts/make_tie_vectors.py --out DIR --seed S [--graphs N] [--placements K] [--ndev 2,3]
    tools/scripts/make_tie_vectors.py --positive-compute --out tests/golden/paper-ties-positive \
        --graphs 20 --placements 40 --ndev 1,2,3,4,8   # no free ops: regenerates that folder
Deterministic: the same arguments give byte-identical files (default seed 2024, 30 graphs,
50 placements, NDEV 1,2,3,4,8).
"""
import argparse
import concurrent.futures
import os
import pathlib
import random
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "configs/workloads/doppler-paper/reference_sim.py"
PYTHON = "/usr/bin/python3"

# (comp choices, comm choices), one pair per graph, drawn per op; repeats weight the draw. Zero
# costs make the most ties: whole cascades (finish -> edge -> ready -> grant -> finish) at one instant.
PALETTES = [
    ([0, 1, 2], [0]),                    # free transfers: cross-device arrivals tie with local ones
    ([0, 0, 0, 0, 1, 2], [0, 0, 0, 1]),  # mostly free
    ([0, 0, 1, 2], [0, 0, 1]),
    ([0, 1], [0, 1]),
    ([0, 0, 0, 1, 2, 3], [0, 0, 1, 2]),
    ([0, 0, 1, 3], [0, 2]),
    ([0, 1, 2, 3, 4], [0, 1, 2, 3]),
    ([1], [1]),                          # uniform: completions and arrivals all tie
]
# --positive-compute: no op is free, so the engine's direct path (an instant with a single timed
# event runs its cascade at once) is exercised; ties still abound.
POSITIVE_PALETTES = [
    ([1, 2], [0, 1]),
    ([1, 1, 2], [0, 0, 1, 2]),
    ([1, 2, 3], [1, 2]),
    ([2], [0, 2]),
    ([1], [0, 1]),
]


def tie_graph(rng, n, style, palettes):
    """Edges (in file order, topological positions 0..n-1) and per-op costs of one graph."""
    edges = []
    if style == "layered":  # wide layers: many ops ready at once compete for few devices
        width = rng.randint(3, 12)
        for v in range(width, n):
            layer_start = v - v % width
            prev = range(max(0, layer_start - width), layer_start)
            for u in rng.sample(prev, min(len(prev), rng.choice([1, 2, 2, 3]))):
                edges.append((u, v))
    elif style == "dag":
        sources = rng.randint(1, max(1, n // 6))
        for v in range(sources, n):
            window = rng.choice([2, 4, 8, n])
            lo = max(0, v - window)
            fan_in = rng.choice([1, 1, 2, 2, 3, 4])
            for u in rng.sample(range(lo, v), min(fan_in, v - lo)):
                edges.append((u, v))
    if style != "edgeless":
        for _ in range(rng.randint(0, max(1, n // 8))):  # diamonds a -> {b, c} -> d
            if n < 4:
                break
            a = rng.randrange(0, n - 3)
            d = rng.randrange(a + 3, n)
            b, c = rng.sample(range(a + 1, d), 2)
            edges += [(a, b), (a, c), (b, d), (c, d)]
        if n >= 8 and rng.random() < 0.5:  # broadcast from one op
            a = rng.randrange(0, n // 2)
            edges += [(a, v) for v in rng.sample(range(a + 1, n), min(n - a - 1, rng.randint(3, 8)))]
        if n >= 8 and rng.random() < 0.5:  # gather into one op
            d = rng.randrange(n // 2, n)
            edges += [(u, d) for u in rng.sample(range(0, d), min(d, rng.randint(3, 8)))]
        for _ in range(rng.randint(0, max(1, len(edges) // 12))):  # repeated pairs, anywhere
            edges.insert(rng.randrange(len(edges) + 1), rng.choice(edges))
        if rng.random() < 0.6:
            rng.shuffle(edges)
    comp_choices, comm_choices = rng.choice(palettes)
    costs = [(rng.choice(comp_choices), rng.choice(comm_choices)) for _ in range(n)]
    return edges, costs


def graph_text(rng, n, edges, costs):
    perm = list(range(n))
    if rng.random() < 0.7:
        rng.shuffle(perm)  # op ids no longer follow a topological order
    inputs = [n + j for j in range(rng.randint(0, 3))]
    sep = rng.choice([",", ", ", " "])
    optypes = rng.random() < 0.3
    ops = [None] * n
    for position, (comp, comm) in enumerate(costs):
        ops[perm[position]] = f"{comp}{sep}{comm}" + (f"{sep}{rng.choice(['matmul', 'add', 'relu'])}" if optypes else "")
    lines = [str(n + len(inputs)), sep.join(map(str, inputs)),
             sep.join(str(perm[u]) for u, _ in edges), sep.join(str(perm[v]) for _, v in edges)]
    return "\n".join(lines + ops) + "\n"


def reference(graph, ndev, k, seed):
    result = subprocess.run([PYTHON, str(REFERENCE), str(graph), str(ndev), str(k), str(seed)],
                            capture_output=True, text=True, check=True)
    lines = result.stdout.splitlines()
    if len(lines) != k or not all(re.fullmatch(r"[0-9,]+\t\d+", line) for line in lines):
        sys.exit(f"{graph}: unexpected reference output for NDEV={ndev}:\n{result.stdout}{result.stderr}")
    return "".join(line + "\n" for line in lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "tests/golden/paper-ties"))
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--graphs", type=int, default=30)
    parser.add_argument("--placements", type=int, default=50)
    parser.add_argument("--ndev", default="1,2,3,4,8")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--positive-compute", action="store_true", help="every op takes time (comp >= 1)")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("ties_*"):
        old.unlink()

    jobs = []
    for i in range(args.graphs):
        rng = random.Random(args.seed * 1_000_003 + i)
        # sizes spread over 5..120: small, medium and large thirds
        tier = (5, 20) if i % 3 == 0 else (20, 60) if i % 3 == 1 else (60, 120)
        n = rng.randint(*tier)
        style = "edgeless" if i == 0 else "dag" if i % 3 == 0 else "layered"
        edges, costs = tie_graph(rng, n, style, POSITIVE_PALETTES if args.positive_compute else PALETTES)
        path = out / f"ties_{i:02d}.txt"
        path.write_text(graph_text(rng, n, edges, costs))
        for ndev in map(int, args.ndev.split(",")):
            k = 1 if ndev == 1 else args.placements
            jobs.append((path, ndev, k, rng.randrange(1 << 31)))

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = pool.map(lambda job: reference(*job), jobs)
        for (path, ndev, _, _), text in zip(jobs, results):
            (out / f"{path.stem}.{ndev}dev.reference.tsv").write_text(text)
    print(f"{args.graphs} graphs, {sum(job[2] for job in jobs)} vectors in {out}")


if __name__ == "__main__":
    main()
