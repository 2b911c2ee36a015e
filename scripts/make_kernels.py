"""Writes src/main/resources/ai/tilt/model/tilt_kernels.pt: the TorchScript kernels Tilt calls for
what DJL 0.36 cannot do itself (casts to and from bfloat16 that keep autograd, bf16 matmuls, fused
scaled-dot-product attention). Dev-time only: the archive is committed (a few KB) and the build and
runs never need Python. It was made with torch 2.13 (TorchScript file format version 3), which the
libtorch 2.7.1 inside DJL loads; rerun this script after changing a kernel:

    $VENV/bin/python scripts/make_kernels.py src/main/resources/ai/tilt/model/tilt_kernels.pt

Every method is differentiable when Tilt runs it in training mode; inputs and outputs that cross
into Java are float32, so no bfloat16 array ever reaches DJL (which aborts the JVM on one).
"""
import sys
import torch
import torch.nn.functional as F


class TiltKernels(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @torch.jit.export
    def linear_bf16(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """x @ w.T in bfloat16, fp32 in and out; gradients reach fp32 x and w."""
        return F.linear(x.to(torch.bfloat16), w.to(torch.bfloat16)).to(torch.float32)

    @torch.jit.export
    def linear_bias_bf16(self, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return F.linear(x.to(torch.bfloat16), w.to(torch.bfloat16), b.to(torch.bfloat16)).to(torch.float32)

    @torch.jit.export
    def matmul_bf16(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a.to(torch.bfloat16), b.to(torch.bfloat16)).to(torch.float32)

    @torch.jit.export
    def sdpa(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, gqa: bool) -> torch.Tensor:
        """Fused attention with an additive bias (causal, padding, window), fp32."""
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, enable_gqa=gqa)

    @torch.jit.export
    def sdpa_bf16(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, gqa: bool) -> torch.Tensor:
        b16 = torch.bfloat16
        out = F.scaled_dot_product_attention(q.to(b16), k.to(b16), v.to(b16), attn_mask=bias.to(b16), enable_gqa=gqa)
        return out.to(torch.float32)

    @torch.jit.export
    def to_bf16(self, x: torch.Tensor) -> torch.Tensor:
        """For weights held in bfloat16 (inference-only models): the result stays inside libtorch."""
        return x.to(torch.bfloat16)

    @torch.jit.export
    def linear_w16(self, x: torch.Tensor, w16: torch.Tensor) -> torch.Tensor:
        """x (fp32) times a weight already held in bfloat16; fp32 out."""
        return F.linear(x.to(torch.bfloat16), w16).to(torch.float32)

    @torch.jit.export
    def linear_bias_w16(self, x: torch.Tensor, w16: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return F.linear(x.to(torch.bfloat16), w16, b.to(torch.bfloat16)).to(torch.float32)

    @torch.jit.export
    def matmul_w16(self, x: torch.Tensor, w16: torch.Tensor) -> torch.Tensor:
        """GPT-2's Conv1D: x @ w with w held in bfloat16 as [in, out]."""
        return torch.matmul(x.to(torch.bfloat16), w16).to(torch.float32)

    @torch.jit.export
    def embedding_w16(self, ids: torch.Tensor, w16: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, w16).to(torch.float32)

    @torch.jit.export
    def multinomial(self, probs: torch.Tensor, n: int) -> torch.Tensor:
        return torch.multinomial(probs, n)


if __name__ == "__main__":
    torch.jit.script(TiltKernels()).save(sys.argv[1])
    print("wrote", sys.argv[1], "with torch", torch.__version__)
