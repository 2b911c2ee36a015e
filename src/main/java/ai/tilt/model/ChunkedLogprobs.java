package ai.tilt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.runtime.NoGrad;

/**
 * Log-probs of the targets under the LM head, over chunks of positions, so no more than one chunk
 * of (B, c, V) logits exists at a time: at V = 128k-152k the logits of a whole micro-batch run to
 * gigabytes, and a graph through them would keep them all until backward (TRL users reach for
 * Liger's fused linear cross-entropy for this).
 *
 * <p>Without a graph the chunks simply follow each other. With one, the forward runs without a
 * graph and hands the loss a leaf; its backward waits in {@link DeferredBackward} until the loss's
 * own has filled the leaf's gradient g, and then:
 *
 * <ul>
 *   <li>when the head's weight W is frozen (LoRA, or a head outside {@code model.trainable}), the
 *       gradient of log p(y_t) with respect to the hidden state h_t, J_t = W[y_t] - softmax(W h_t)
 *       W, was computed with each chunk in the forward (one extra product with W instead of
 *       recomputing the logits), so the states get g_t J_t;
 *   <li>otherwise each chunk is recomputed with a graph and backpropagated on its own, which also
 *       gives W its gradient.
 * </ul>
 *
 * Either way the hidden states' total gradient is then pushed back through the model once.
 */
final class ChunkedLogprobs {
  /** Tests compare the frozen-head shortcut with plain autograd through the logits. */
  static boolean autogradOnly = false;

  private ChunkedLogprobs() {}

  /**
   * @param states (B, N, d)
   * @param targets (B, N) int64
   * @return (B, N) fp32
   */
  static NDArray of(CausalLM model, NDArray states, NDArray targets) {
    long b = states.getShape().get(0);
    long n = states.getShape().get(1);
    boolean frozenHead = !model.headWeight().hasGradient() && !autogradOnly;
    boolean graph = JniUtils.isGradMode();
    // positions per chunk
    long chunk = Math.max(1, model.logitsChunkTokens(b * n, graph && !frozenHead) / b);
    if (!graph) {
      return chunk >= n ? logprobs(model, states, targets) : forward(model, states, targets, chunk);
    }
    if (frozenHead) {
      return withJacobian(model, states, targets, chunk);
    }
    if (chunk >= n) {
      return logprobs(model, states, targets); // one chunk: plain autograd
    }
    return recomputed(model, states, targets, chunk);
  }

  /** A frozen head: log-probs and their gradients with respect to the states, chunk by chunk. */
  private static NDArray withJacobian(CausalLM model, NDArray states, NDArray targets, long chunk) {
    long n = states.getShape().get(1);
    NDList values = new NDList();
    NDList jacobians = new NDList(); // (B, c, d) each
    try (NoGrad off = NoGrad.enter()) {
      for (long start = 0; start < n; start += chunk) {
        long end = Math.min(n, start + chunk);
        NDArray s = chunk >= n ? states : states.get(":, {}:{}", start, end);
        NDArray tg = chunk >= n ? targets : targets.get(":, {}:{}", start, end);
        NDArray logits = model.logits(s); // (B, c, V)
        NDArray logp = logits.logSoftmax(-1); // (B, c, V)
        logits.close();
        values.add(logp.gather(tg.expandDims(-1), -1).squeeze(-1)); // (B, c)
        // d log p(y) / d logits = onehot(y) - softmax, taken through W as autograd would: forming
        // the difference first keeps its bf16 product accurate (W[y] - E_p[W] would cancel).
        // Built in place in the softmax's buffer: two (B, c, V) arrays at most exist at once.
        NDArray d = logp.exp(); // (B, c, V)
        logp.close();
        d.negi();
        long rows = d.getShape().get(0) * d.getShape().get(1);
        NDArray flat = d.reshape(rows, d.getShape().get(2)); // a view: writes reach d
        NDManager m = d.getManager();
        flat.set(
            new NDIndex("{}, {}", m.arange(0, rows, 1, DataType.INT64), tg.flatten()),
            v -> v.add(1f));
        jacobians.add(model.throughHead(d)); // (B, c, d)
        d.close();
      }
    }
    NDArray out =
        DeferredBackward.leaf(values.size() == 1 ? values.get(0) : NDArrays.concat(values, 1));
    NDArray jacobian = jacobians.size() == 1 ? jacobians.get(0) : NDArrays.concat(jacobians, 1);
    DeferredBackward.defer(
        () -> {
          NDArray g = DeferredBackward.gradientOf(out); // (B, N)
          if (g != null) {
            DeferredBackward.backwardIfGraph(states, jacobian.mul(g.expandDims(-1)));
          }
        });
    return out;
  }

  /** A head that trains: each chunk recomputed with a graph in backward. */
  private static NDArray recomputed(CausalLM model, NDArray states, NDArray targets, long chunk) {
    long n = states.getShape().get(1);
    NDArray statesLeaf = DeferredBackward.leaf(states); // (B, N, d), gathers the head's gradient
    NDArray values;
    try (NoGrad off = NoGrad.enter()) {
      values = forward(model, statesLeaf, targets, chunk);
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
