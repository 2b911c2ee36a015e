package ai.tilt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;

/**
 * Log-probs of the targets under the LM head, over chunks of positions, so no more than one chunk
 * of (B, c, V) logits exists at a time: at V = 128k-152k the logits of a whole micro-batch run to
 * gigabytes, and a graph through them would keep them all until backward (TRL users reach for
 * Liger's fused linear cross-entropy for this). Without a graph the chunks simply follow each
 * other. With one, the forward runs without a graph and returns a leaf; the backward, deferred
 * until the loss's own has filled the leaf's gradient, recomputes each chunk with a graph, pushes
 * that chunk's share of the gradient into the hidden states and frees it, then backpropagates the
 * hidden states' total gradient once.
 */
final class ChunkedLogprobs {
  private ChunkedLogprobs() {}

  /**
   * @param states (B, N, d)
   * @param targets (B, N) int64
   * @return (B, N) fp32
   */
  static NDArray of(CausalLM model, NDArray states, NDArray targets) {
    long b = states.getShape().get(0);
    long n = states.getShape().get(1);
    long chunk = Math.max(1, model.logitsChunkTokens() / b); // positions per chunk
    if (chunk >= n) {
      return logprobs(model, states, targets);
    }
    if (!JniUtils.isGradMode()) {
      return forward(model, states, targets, chunk);
    }
    NDArray statesLeaf = DeferredBackward.leaf(states); // (B, N, d), gathers the head's gradient
    JniUtils.setGradMode(false);
    NDArray values;
    try {
      values = forward(model, statesLeaf, targets, chunk);
    } finally {
      JniUtils.setGradMode(true);
    }
    NDArray out = DeferredBackward.leaf(values); // (B, N): what the loss sees
    DeferredBackward.defer(
        () -> {
          NDArray g = DeferredBackward.gradientOf(out); // (B, N)
          if (g == null) {
            return; // the loss did not use these log-probs
          }
          for (long start = 0; start < n; start += chunk) {
            long end = Math.min(n, start + chunk);
            try (NDManager scope = states.getManager().newSubManager()) {
              statesLeaf.tempAttach(scope);
              targets.tempAttach(scope);
              g.tempAttach(scope);
              NDArray s = statesLeaf.get(":, {}:{}", start, end);
              NDArray lp = logprobs(model, s, targets.get(":, {}:{}", start, end)); // (B, c)
              DeferredBackward.backward(lp, g.get(":, {}:{}", start, end));
            }
          }
          NDArray gs = DeferredBackward.gradientOf(statesLeaf); // (B, N, d)
          if (gs != null) {
            DeferredBackward.backwardIfGraph(states, gs);
          }
        });
    return out;
  }

  /** The chunks one after the other (no graph kept across them). */
  private static NDArray forward(CausalLM model, NDArray states, NDArray targets, long chunk) {
    long n = states.getShape().get(1);
    NDList parts = new NDList();
    for (long start = 0; start < n; start += chunk) {
      long end = Math.min(n, start + chunk);
      parts.add(
          logprobs(model, states.get(":, {}:{}", start, end), targets.get(":, {}:{}", start, end)));
    }
    return NDArrays.concat(parts, 1);
  }

  /** log-softmax of one chunk's logits at its targets: (B, c, d) -> (B, c). */
  private static NDArray logprobs(CausalLM model, NDArray states, NDArray targets) {
    NDArray logits = model.logits(states); // (B, c, V)
    NDArray logp = logits.logSoftmax(-1); // (B, c, V)
    NDArray out = logp.gather(targets.expandDims(-1), -1).squeeze(-1);
    // Dropping the handles frees both (B, c, V) arrays now instead of at the end of the caller's
    // scope; under autograd the graph keeps its own reference to what backward needs.
    logits.close();
    logp.close();
    return out;
  }
}
