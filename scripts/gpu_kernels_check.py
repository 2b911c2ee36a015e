"""Loads Tilt's TorchScript kernels on a CUDA device with PyTorch and checks them there: what can
be verified on a GPU machine without a JVM (the Java side runs through scripts/gpu-check.sh,
with DJL's JNI rebuilt for the machine's torch). Checks that every kernel runs on CUDA, that gradients flow through the
bf16 casts to float32 inputs, that fused attention with an additive mask and grouped-query heads
equals the explicit computation, and times a bf16 against an fp32 linear.

    python3 scripts/gpu_kernels_check.py src/main/resources/ai/tilt/runtime/tilt_kernels.pt
"""
import json
import sys
import time

import torch

dev = torch.device("cuda")
k = torch.jit.load(sys.argv[1], map_location=dev)
torch.manual_seed(0)
out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}

x = torch.randn(64, 512, device=dev, requires_grad=True)
w = torch.randn(1024, 512, device=dev, requires_grad=True)
y = k.linear_bf16(x, w)
y.sum().backward()
ref = x.detach() @ w.detach().T
out["linear_bf16_dtype"] = str(y.dtype)
out["linear_bf16_rel_err"] = ((y - ref).abs().max() / ref.abs().max()).item()
out["grad_reaches_fp32_master"] = w.grad is not None and w.grad.dtype == torch.float32

B, H, KV, T, D = 2, 8, 2, 64, 32
q = torch.randn(B, H, T, D, device=dev)
kk = torch.randn(B, KV, T, D, device=dev)
v = torch.randn(B, KV, T, D, device=dev)
causal = torch.triu(torch.full((T, T), -1e9, device=dev), 1)
bias = causal.expand(B, 1, T, T).contiguous()
fused = k.sdpa(q, kk, v, bias, True)
rep = lambda t: t.repeat_interleave(H // KV, dim=1)
explicit = torch.softmax(q @ rep(kk).transpose(-1, -2) / D ** 0.5 + bias, -1) @ rep(v)
out["sdpa_gqa_max_abs_diff"] = (fused - explicit).abs().max().item()
out["sdpa_bf16_max_abs_diff"] = (k.sdpa_bf16(q, kk, v, bias, True) - explicit).abs().max().item()
w16 = k.to_bf16(w.detach())
out["w16_dtype"] = str(w16.dtype)
out["linear_w16_rel_err"] = ((k.linear_w16(x.detach(), w16) - ref).abs().max() / ref.abs().max()).item()

a = torch.randn(8192, 8192, device=dev)
b = torch.randn(8192, 8192, device=dev)
for name, fn in [("fp32", lambda: a @ b.T), ("bf16_kernel", lambda: k.linear_bf16(a, b))]:
    fn(); torch.cuda.synchronize()
    t0 = time.time()
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    out[f"tflops_{name}"] = 5 * 2 * 8192 ** 3 / (time.time() - t0) / 1e12
out["peak_gpu_mem_mb"] = torch.cuda.max_memory_allocated() / 2 ** 20
print(json.dumps(out))
