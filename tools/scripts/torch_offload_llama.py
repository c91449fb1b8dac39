#!/usr/bin/env python3
"""PyTorch baseline for doppler's offload study (issue 6: "against PyTorch on the same GPU and
budget"): the stacked `llama_layer` model of configs/offload-llama.yaml, every layer's weights kept
in pinned host memory and copied in on a side stream, prefetching the next layer while the current
one computes (double buffering: two layers' weights on the GPU at once, plus activations). The
layer is torch_llama_layer.py's. One GPU.

Prints one JSON object: sizes, the GPU bytes the weights take at once, the median / min ms of one
forward pass over --iterations timed passes (CUDA events, after --warmup passes), the bytes copied
per pass, the copy-only time (all layers' weights copied back to back, nothing computed) and
peak_bytes, the most GPU memory PyTorch held during the timed passes (the budget doppler is given in
tools/scripts/gpu_offload_vs_torch.sh).
Run (on the GPU machine): python3 tools/scripts/torch_offload_llama.py --batch 4 --seq 1024 \
    --hidden 4096 --heads 32 --ffn 11008 --layers 4
"""
import argparse
import json
import statistics

import torch

from torch_llama_layer import layer, rotary_tables


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--hidden", type=int, default=4096)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--ffn", type=int, default=11008)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=10)
    a = ap.parse_args()
    dtype, dev = torch.bfloat16, torch.device("cuda")
    b, s, h, n, f = a.batch, a.seq, a.hidden, a.heads, a.ffn
    d = h // n
    g = torch.Generator().manual_seed(1)

    def host(*shape, scale=1.0):
        return ((torch.rand(shape, generator=g) * 2 - 1) * scale).to(dtype).pin_memory()

    shapes = {"attn_norm": (h,), "mlp_norm": (h,), "wq": (h, n, d), "wk": (h, n, d), "wv": (h, n, d),
              "wo": (n, d, h), "wgate": (h, f), "wup": (h, f), "wdown": (f, h)}
    layers = [{k: host(*v, scale=v[0] ** -0.5 if len(v) > 1 else 1.0) for k, v in shapes.items()}
              for _ in range(a.layers)]
    buffers = [{k: torch.empty(v, device=dev, dtype=dtype) for k, v in shapes.items()} for _ in range(2)]
    copy_stream = torch.cuda.Stream()
    x0 = (torch.rand((b, s, h), generator=g) * 2 - 1).to(dtype).to(dev)
    cos, sin = rotary_tables(s, d, 10000.0, dev, dtype)
    layer_bytes = sum(t.numel() * t.element_size() for t in layers[0].values())

    def load(i, event_ready):
        with torch.cuda.stream(copy_stream):
            copy_stream.wait_event(event_ready)  # the buffer's previous layer is done with it
            for k, t in layers[i].items():
                buffers[i % 2][k].copy_(t, non_blocking=True)
            loaded = torch.cuda.Event()
            loaded.record(copy_stream)
        return loaded

    def forward():
        free = [torch.cuda.Event(), torch.cuda.Event()]
        for e in free:
            e.record()
        loaded = load(0, free[0])
        x = x0
        for i in range(a.layers):
            nxt = load(i + 1, free[(i + 1) % 2]) if i + 1 < a.layers else None
            torch.cuda.current_stream().wait_event(loaded)
            x = layer(x, buffers[i % 2], cos, sin)
            free[i % 2] = torch.cuda.Event()
            free[i % 2].record()
            loaded = nxt
        return x

    def timed(fn, count):
        times = []
        for _ in range(count):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end))
        return times

    def copies_only():
        with torch.cuda.stream(copy_stream):
            for i in range(a.layers):
                for k, t in layers[i].items():
                    buffers[i % 2][k].copy_(t, non_blocking=True)
        torch.cuda.current_stream().wait_stream(copy_stream)

    with torch.inference_mode():
        timed(forward, a.warmup)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(dev)
        times = timed(forward, a.iterations)
        peak = torch.cuda.max_memory_allocated(dev)
        copy_times = timed(copies_only, a.iterations)
        y = forward()
    print(json.dumps({"workload": "llama_layer x %d, weights offloaded" % a.layers, "batch": b, "seq": s,
                      "hidden": h, "heads": n, "ffn": f, "layers": a.layers, "dtype": "bf16",
                      "device": torch.cuda.get_device_name(dev), "torch": torch.__version__,
                      "weight_bytes_on_gpu": 2 * layer_bytes, "bytes_copied": a.layers * layer_bytes,
                      "peak_bytes": peak,
                      "median_ms": statistics.median(times), "min_ms": min(times),
                      "copy_only_ms": statistics.median(copy_times), "iterations": a.iterations,
                      "finite": bool(torch.isfinite(y.float()).all())}))


if __name__ == "__main__":
    main()
