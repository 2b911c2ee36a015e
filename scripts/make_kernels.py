"""Writes src/main/resources/ai/tilt/runtime/tilt_kernels.pt: the TorchScript kernels Tilt calls for
what DJL 0.36 cannot do itself (casts to and from bfloat16 that keep autograd, bf16 matmuls, fused
scaled-dot-product attention). Dev-time only: the archive is committed (a few KB) and the build and
runs never need Python. It was made with torch 2.13 (TorchScript file format version 3), which the
libtorch 2.7.1 inside DJL loads; rerun this script after changing a kernel:

    $VENV/bin/python scripts/make_kernels.py src/main/resources/ai/tilt/runtime/tilt_kernels.pt

Every method is differentiable when Tilt runs it in training mode; inputs and outputs that cross
into Java are float32, so no bfloat16 array ever reaches DJL (which aborts the JVM on one).
"""
import math
import sys
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F


def _rms(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    # as CausalLM.rmsNorm: x / sqrt(mean(x^2) + eps) * w
    return x / (x.square().mean(-1, keepdim=True) + eps).sqrt() * w


def _opt(t: torch.Tensor) -> Optional[torch.Tensor]:
    return t if t.numel() > 0 else None


def _draw(scaled: torch.Tensor, mx: torch.Tensor, u: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # The two-level inverse-CDF draw of sample_plain (see there) from (B, V) logits, their (B, 1)
    # row maxima and (B, 1) fp64 uniforms: the (B, 1) token, its fp64 log-prob and the (B, 1) fp64
    # normaliser sum(exp(logits - max)).
    b = scaled.size(0)
    v = scaled.size(1)
    bs = 256
    nb = (v + bs - 1) // bs
    # (B, nb bs) unnormalised probabilities, written in place into a buffer of whole blocks
    # (a subtract, an exp and a zero-padded copy each made a new (B, V) array: 0.3 ms a step)
    e = torch.empty([b, nb * bs], dtype=scaled.dtype, device=scaled.device)
    ev = e[:, :v]
    torch.sub(scaled, mx, out=ev)
    ev.exp_()
    e[:, v:].zero_()
    eb = e.view(b, nb, bs)
    sums = eb.sum(-1)  # (B, nb) each block's mass, fp32
    bc = sums.to(torch.float64).cumsum(-1)  # (B, nb) mass up to each block's end
    total = bc[:, -1:]
    thr = u * total
    bi = (bc < thr).sum(1, keepdim=True).clamp_max(nb - 1)  # (B, 1) the block
    before = torch.where(bi > 0, bc.gather(1, (bi - 1).clamp_min(0)), torch.zeros_like(thr))
    block = eb.gather(1, bi.unsqueeze(-1).expand(b, 1, bs)).squeeze(1)  # (B, bs)
    inner = _within(block, sums.gather(1, bi)) + before
    k = (inner < thr).sum(1, keepdim=True).clamp_max(bs - 1)
    choice = (bi * bs + k).clamp_max(v - 1)  # (B, 1)
    chosen = scaled.gather(1, choice).to(torch.float64) - mx.to(torch.float64) - total.log()
    return choice, chosen, total


def _within(block: torch.Tensor, total: torch.Tensor) -> torch.Tensor:
    # The chosen block's own fp64 prefix sums, scaled to end at its fp32 total, the one the block
    # prefix sums counted: unscaled, a threshold in the gap between the two totals (about 3e-8 of
    # the mass a draw) found no token in the block and took its last, whatever its probability.
    c = block.to(torch.float64).cumsum(-1)  # (B, bs)
    return c * (total.to(torch.float64) / c[:, -1:].clamp_min(1e-300))


def _shared_heads(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, gqa: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    # Grouped-query attention with each KV head repeated for its group of query heads (head h reads
    # KV head h // g, as HF's repeat_kv): with enable_gqa the libtorch 2.7.1 DJL ships takes SDPA's
    # unfused path on CPU, 3x slower forward at the Qwen2.5-0.5B shape (B 4, T 256, 14 / 2 heads)
    # and a backward through separate matmuls (measured); the copies are (B, H, S, hd), small.
    if not gqa:
        return k, v
    g = q.size(1) // k.size(1)
    return k.repeat_interleave(g, dim=1), v.repeat_interleave(g, dim=1)


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.size(-1) // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), -1) * sin


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
        k, v = _shared_heads(q, k, v, gqa)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)

    @torch.jit.export
    def sdpa_bf16(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, gqa: bool) -> torch.Tensor:
        b16 = torch.bfloat16
        k, v = _shared_heads(q, k, v, gqa)
        out = F.scaled_dot_product_attention(q.to(b16), k.to(b16), v.to(b16), attn_mask=bias.to(b16))
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
    def decode_rms(self, ids: torch.Tensor, positions: torch.Tensor, key_mask: torch.Tensor,
                   inv_freq: torch.Tensor, embed: torch.Tensor, layers: List[torch.Tensor],
                   keys: List[torch.Tensor], values: List[torch.Tensor], pos: int, window: int,
                   heads: int, kv_heads: int, eps: float, final_norm: torch.Tensor) -> torch.Tensor:
        """One decode step of a Llama-style model (RMSNorm, rotary, SwiGLU; Mistral, Qwen2, Qwen3)
        in one call: Java's per-op dispatch cost more than the step's arithmetic (CausalLM.decodeLogits).
        The embedding lookup, rotary tables and attention bias are made here too, as CausalLM's
        embed, Rotary.tables and attentionBias make them (the same ops in the same order): in Java
        their ~15 ops took 1 ms of a 16 ms step on llama-small at batch 16 (measured).

        ids, positions (B, 1) int64 the fed tokens and their position ids; key_mask (B, pos + 1)
        int64, 1 where a key is real; inv_freq (hd / 2) the rotary inverse frequencies; embed (V, d);
        layers: 18 tensors per layer, empty where the model has none: input norm, q w/b, k w/b,
        v w/b, o w/b, q_norm, k_norm, post norm, gate w/b, up w/b, down w/b; keys/values
        (B, KV, capacity, hd) per layer, written at position pos; window the sliding window (0: none).
        Returns (B, d) final hidden states (after the last norm).
        """
        x = F.embedding(ids, embed)  # (B, 1, d)
        angles = positions.to(torch.float32).unsqueeze(-1) * inv_freq.view(1, 1, -1)  # (B, 1, hd/2)
        emb = torch.cat((angles, angles), -1).unsqueeze(1)  # (B, 1, 1, hd)
        cos = emb.cos()
        sin = emb.sin()
        allowed = key_mask.to(torch.bool)  # (B, S): the one query sees every earlier key
        if window > 0:
            k_pos = torch.arange(0, pos + 1, dtype=torch.int64, device=ids.device)
            allowed = allowed & ((pos - k_pos) < window).unsqueeze(0)
        bias = ((allowed.to(torch.float32) - 1.0) * 1e9).view(allowed.size(0), 1, 1, pos + 1)
        b = x.size(0)
        hd = keys[0].size(-1)
        for i in range(len(keys)):
            w = layers[i * 18:(i + 1) * 18]
            h = _rms(x, w[0], eps)
            q = F.linear(h, w[1], _opt(w[2])).view(b, 1, heads, hd)
            k = F.linear(h, w[3], _opt(w[4])).view(b, 1, kv_heads, hd)
            v = F.linear(h, w[5], _opt(w[6])).view(b, 1, kv_heads, hd)
            if w[9].numel() > 0:
                q = _rms(q, w[9], eps)
                k = _rms(k, w[10], eps)
            q = _rotate(q.transpose(1, 2), cos, sin)
            keys[i][:, :, pos:pos + 1] = _rotate(k.transpose(1, 2), cos, sin)
            values[i][:, :, pos:pos + 1] = v.transpose(1, 2)
            # one query position: plain matmuls beat the fused SDPA kernel here (measured 0.6 vs 1 ms)
            g = heads // kv_heads
            scores = torch.matmul(q.reshape(b, kv_heads, g, hd), keys[i][:, :, :pos + 1].transpose(2, 3))
            probs = torch.softmax(scores * (1.0 / math.sqrt(hd)) + bias, -1)  # (B, KV, g, S)
            o = torch.matmul(probs, values[i][:, :, :pos + 1]).reshape(b, 1, heads * hd)
            x = x + F.linear(o, w[7], _opt(w[8]))
            h = _rms(x, w[11], eps)
            gate = F.linear(h, w[12], _opt(w[13]))
            up = F.linear(h, w[14], _opt(w[15]))
            x = x + F.linear(gate * torch.sigmoid(gate) * up, w[16], _opt(w[17]))
        return _rms(x, final_norm, eps).view(b, x.size(-1))

    @torch.jit.export
    def head_logits(self, h: torch.Tensor, head_w: torch.Tensor) -> torch.Tensor:
        """(B, d) hidden states -> (B, V) logits. In a decode step the (V, d) weight comes from
        memory, not cache (the step's other arrays evict it), so the product is bound by reading it
        and h @ W^T, which writes (B, V) directly, beats W @ h^T and a transposing copy: 13.0 vs
        14.2 ms a step at batch 16 on llama-small, and ahead at batch 4 and 64 too (measured)."""
        return F.linear(h, head_w)

    @torch.jit.export
    def sample_plain(self, logits: torch.Tensor, u: torch.Tensor, temperature: float) -> torch.Tensor:
        """TokenSampler.draw's inverse-CDF draw without top-k/top-p, in one call and in two levels: the
        fp64 prefix sums of 256-token blocks pick the block, the block's own prefix sums pick the
        token. The same token as one cumulative sum over the vocabulary (up to rounding at a block
        boundary), with two passes over the (B, V) probabilities instead of six (measured 25-45%
        faster on a 50k vocabulary). Each block is summed in fp32 (torch's pairwise sum, within a
        few 1e-8 of fp64 over 256 terms) and only the block sums go to fp64: summing with
        dtype=float64 first converted the whole (B, V) array, 0.8 of a 2.4 ms step (measured).

        logits (B, V) fp32; u (B, 1) fp64 uniforms. Returns (B, 2) fp64: token id, its log-prob
        (computed in fp64).
        """
        scaled = logits if temperature == 1.0 else logits / temperature
        choice, chosen, total = _draw(scaled, scaled.amax(-1, keepdim=True), u)
        return torch.cat((choice.to(torch.float64), chosen), -1)

    @torch.jit.export
    def sample_plain_top1(self, logits: torch.Tensor, u: torch.Tensor, temperature: float) -> torch.Tensor:
        """sample_plain and the most likely token with its log-prob, as an OpenAI request with
        logprobs 1 (the trainer's, for vLLM's and SGLang's sake) asks: the most likely token's
        log-prob is -log of the normaliser sample_plain computes anyway, where a separate
        log-softmax and top-k cost 3 ms a step on a 50k vocabulary at batch 16 (measured).

        Returns (B, 4) fp64: token id, its log-prob, the most likely token id, its log-prob.
        """
        scaled = logits if temperature == 1.0 else logits / temperature
        mx, top = scaled.max(-1, keepdim=True)
        choice, chosen, total = _draw(scaled, mx, u)
        return torch.cat((choice.to(torch.float64), chosen, top.to(torch.float64), -total.log()), -1)

    @torch.jit.export
    def head_logprobs(self, h: torch.Tensor, w: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """log p(y) under the LM head without a graph: (M, d) states, (V, d) weight, (M) targets ->
        (M). The (M, V) logits are made once and log-softmaxed in place (torch's kernel, row by row
        while the row is in cache): an out-of-place log-softmax writes a second (M, V) array (206 MB
        of fresh pages at M = 1024, V = 50k) only to gather M values from it, and separate max,
        subtract, exp and sum ops stream the whole array four times (measured 2x slower)."""
        z = torch.mm(h, w.t())  # (M, V)
        torch._log_softmax(z, 1, False, out=z)
        return z.gather(1, y.unsqueeze(1)).squeeze(1)

    @torch.jit.export
    def head_logprob_grads(self, h: torch.Tensor, w: torch.Tensor, y: torch.Tensor, want_j: bool,
                           keep_dz: bool) -> List[torch.Tensor]:
        """log p(y) and what its gradients need, without a graph, in one (M, V) array:
        [lp (M), j (M, d), -dz (M, V)], j and -dz empty unless asked for. dz = onehot(y) -
        softmax(h W^T) is d lp / d logits, so d lp / d h = dz W = j and d lp / d W = dz^T h; the
        array holds softmax - onehot, its negation, which saves a pass over it (the callers negate
        the (M, d) factor instead). Made in place in the logits' buffer, where autograd through
        log_softmax and gather writes four (M, V) arrays (logits, log-probs, a zero-filled
        gradient, the logits' gradient).
        """
        z = torch.mm(h, w.t())  # (M, V)
        torch._log_softmax(z, 1, False, out=z)
        lp = z.gather(1, y.unsqueeze(1)).squeeze(1)
        z.exp_()  # softmax
        z.scatter_add_(1, y.unsqueeze(1), torch.full_like(lp, -1.0).unsqueeze(1))  # - dz
        none = torch.empty([0], dtype=z.dtype, device=z.device)
        j = torch.mm(z, w).neg_() if want_j else none  # (M, d)
        return [lp, j, z if keep_dz else none]

    @torch.jit.export
    def index_add_rows(self, acc: torch.Tensor, ids: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """acc[ids[i]] += rows[i], in place: an embedding's gradient added straight into a (V, d)
        gradient, where autograd's embedding backward fills a (V, d) array of zeros first."""
        return acc.index_add_(0, ids, rows)

    @torch.jit.export
    def adamw(self, params: List[torch.Tensor], grads: List[torch.Tensor], exp_avgs: List[torch.Tensor],
              exp_avg_sqs: List[torch.Tensor], step: float, lr: float, beta1: float, beta2: float,
              weight_decay: float, eps: float, grad_scale: float) -> torch.Tensor:
        """AdamW.update in one pass over each parameter: torch's fused CPU/CUDA kernel (the one
        torch.optim.AdamW(fused=True) runs) instead of a dozen element-wise ops, measured 9x faster
        on llama-small's 17M weights. Gradients are first divided by grad_scale (1: unchanged) and
        written back divided, which is how clipping's factor folds into the same pass. Returns the
        step count as a tensor (DJL needs a tensor back).
        """
        steps = [torch.full([], step, dtype=torch.float32, device=params[0].device) for _ in params]
        scale: Optional[torch.Tensor] = None
        if grad_scale != 1.0:
            scale = torch.full([], grad_scale, dtype=torch.float32, device=params[0].device)
        torch._fused_adamw_(params, grads, exp_avgs, exp_avg_sqs, [], steps, lr=lr, beta1=beta1,
                            beta2=beta2, weight_decay=weight_decay, eps=eps, amsgrad=False,
                            maximize=False, grad_scale=scale, found_inf=None)
        return torch.full([], step)

    @torch.jit.export
    def squared_norm(self, grads: List[torch.Tensor]) -> torch.Tensor:
        """The squared global norm as Group.allReduceGradients defines it, and tilt_dist.cc computes
        it: each tensor's L2 norm (one read, where square().sum() writes a squared copy first:
        4x faster on llama-small's gradients), squared, added one by one in order."""
        total = torch.zeros([], dtype=grads[0].dtype, device=grads[0].device)
        for g in grads:
            n = torch.linalg.vector_norm(g)
            total = total + n * n
        return total

    @torch.jit.export
    def multinomial(self, probs: torch.Tensor, n: int) -> torch.Tensor:
        return torch.multinomial(probs, n)


if __name__ == "__main__":
    torch.jit.script(TiltKernels()).save(sys.argv[1])
    print("wrote", sys.argv[1], "with torch", torch.__version__)
