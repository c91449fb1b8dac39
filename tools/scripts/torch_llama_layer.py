#!/usr/bin/env python3
"""PyTorch eager baseline for doppler's einsum `llama_layer` (issue 4: "the same model step against
PyTorch eager on the same GPUs and dtype"). It computes what core/src/einsum/workloads.cpp builds:
RMSNorm, per-head Q/K/V projections, rotary on q and k (base 10000, rotate-half), scores scaled by
1/sqrt(d), softmax over keys (no causal mask), context, output projection, residual; RMSNorm, SwiGLU
MLP (silu(x'W_gate) * x'W_up) W_down, residual. One GPU, one process.

Prints one JSON object: sizes, dtype, device name, and the median / min milliseconds of the forward
step over --iterations timed runs (CUDA events, after --warmup runs), plus the FLOP count of the
einsum contractions and the achieved TFLOP/s.
Run (on the GPU machine): python3 tools/scripts/torch_llama_layer.py --batch 8 --seq 2048 \
    --hidden 4096 --heads 32 --dtype bf16
"""
import argparse
import json
import math
import statistics

import torch


def rotary_tables(seq, d, base, device, dtype):
    half = d // 2
    inv = base ** (-2.0 * torch.arange(half, dtype=torch.float64) / d)
    angle = torch.arange(seq, dtype=torch.float64)[:, None] * inv[None, :]
    cos = torch.cat([angle.cos(), angle.cos()], dim=1)
    sin = torch.cat([angle.sin(), angle.sin()], dim=1)
    return cos.to(device, dtype), sin.to(device, dtype)


def rms_norm(x, w, eps=1e-6):
    return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps).to(x.dtype) * w


def rotary(x, cos, sin):  # x [b, s, n, d]; cos/sin [s, d]
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos[None, :, None, :] + rotated * sin[None, :, None, :]


def layer(x, p, cos, sin):
    d = p["wq"].shape[2]
    xn = rms_norm(x, p["attn_norm"])
    q = rotary(torch.einsum("bsh,hnd->bsnd", xn, p["wq"]), cos, sin)
    k = rotary(torch.einsum("bsh,hnd->bsnd", xn, p["wk"]), cos, sin)
    v = torch.einsum("bsh,hnd->bsnd", xn, p["wv"])
    scores = torch.einsum("bsnd,btnd->bnst", q, k) * (1.0 / math.sqrt(d))
    probs = torch.softmax(scores, dim=-1)
    context = torch.einsum("bnst,btnd->bsnd", probs, v)
    h = x + torch.einsum("bsnd,ndh->bsh", context, p["wo"])
    hn = rms_norm(h, p["mlp_norm"])
    act = torch.nn.functional.silu(hn @ p["wgate"]) * (hn @ p["wup"])
    return h + act @ p["wdown"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--hidden", type=int, default=4096)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--ffn", type=int, default=0, help="MLP width (0 = 4 * hidden)")
    ap.add_argument("--dtype", choices=["f32", "f16", "bf16"], default="bf16")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=20)
    a = ap.parse_args()
    dtype = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[a.dtype]
    dev = torch.device("cuda")
    b, s, h, n = a.batch, a.seq, a.hidden, a.heads
    d, f = h // n, (a.ffn or 4 * h)
    g = torch.Generator(device=dev).manual_seed(1)

    def rand(*shape, scale=1.0):
        return (torch.rand(shape, generator=g, device=dev, dtype=torch.float32) * 2 - 1).mul(scale).to(dtype)

    p = {"attn_norm": rand(h), "mlp_norm": rand(h), "wq": rand(h, n, d, scale=h ** -0.5),
         "wk": rand(h, n, d, scale=h ** -0.5), "wv": rand(h, n, d, scale=h ** -0.5),
         "wo": rand(n, d, h, scale=h ** -0.5), "wgate": rand(h, f, scale=h ** -0.5),
         "wup": rand(h, f, scale=h ** -0.5), "wdown": rand(f, h, scale=f ** -0.5)}
    x = rand(b, s, h)
    cos, sin = rotary_tables(s, d, 10000.0, dev, dtype)
    times = []
    with torch.inference_mode():
        for i in range(a.warmup + a.iterations):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            y = layer(x, p, cos, sin)
            end.record()
            torch.cuda.synchronize()
            if i >= a.warmup:
                times.append(start.elapsed_time(end))
    flops = 2 * (3 * b * s * h * h + 2 * b * n * s * s * d + b * s * h * h + 3 * b * s * h * f)
    median = statistics.median(times)
    print(json.dumps({"workload": "llama_layer", "batch": b, "seq": s, "hidden": h, "heads": n, "ffn": f,
                      "dtype": a.dtype, "device": torch.cuda.get_device_name(dev), "torch": torch.__version__,
                      "median_ms": median, "min_ms": min(times), "iterations": a.iterations,
                      "contraction_flops": flops, "tflops": flops / (median * 1e-3) / 1e12,
                      "finite": bool(torch.isfinite(y.float()).all())}))


if __name__ == "__main__":
    main()
