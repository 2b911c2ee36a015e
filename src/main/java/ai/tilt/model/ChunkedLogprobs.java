package ai.tilt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.runtime.Kernels;
import ai.tilt.runtime.NoGrad;

/**
 * Log-probs of the targets under the LM head, over chunks of positions, so no more than one chunk
 * of (B, c, V) logits exists at a time: at V = 128k-152k the logits of a whole micro-batch run to
 * gigabytes, and a graph through them would keep them all until backward (TRL users reach for
 * Liger's fused linear cross-entropy for this).
 *
 * <p>With a graph, the logits get none. The forward computes, chunk by chunk, log p(y_t) and its
 * gradient with respect to the hidden state h_t, J_t = (onehot(y_t) - softmax(W h_t)) W (one more
 * product with W), and hands the loss lp + (h&middot;J - h&middot;J detached): the value of lp to
 * the bit, and the gradient g_t J_t for the states, so the states' whole gradient (the value head's
 * too, for PPO) goes back through the model in the loss's own backward. A head that trains also
 * needs d lp / d W = dz^T h with dz = onehot - softmax; that waits in {@link DeferredBackward}
 * until the loss's backward has given the log-probs' gradient g, and then adds dz^T (g h) to W's
 * gradient, with dz kept from the forward when there is one chunk (as autograd keeps its log-probs)
 * or recomputed chunk by chunk.
 *
 * <p>In fp32 a TorchScript kernel does a chunk's arithmetic in one (M, V) buffer, where autograd
 * through log-softmax and gather writes four (logits, log-probs, a zero-filled gradient, the
 * logits' gradient): a quarter of a GRPO step on llama-small's 50k vocabulary. Other precisions run
 * the same as separate ops, and a head that trains there gets W's gradient by backpropagating each
 * chunk recomputed with a graph to W alone; one chunk of a trained head is plain autograd.
 */
final class ChunkedLogprobs {
  /** Tests compare the Jacobian path and the kernels with plain autograd through the logits. */
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
    Kernels kernels = autogradOnly ? null : model.fp32Kernels();
    // positions per chunk
    long chunk = Math.max(1, model.logitsChunkTokens(b * n, graph && !frozenHead) / b);
    if (!graph) {
      return chunk >= n
          ? logprobs(model, kernels, states, targets)
          : forward(model, kernels, states, targets, chunk);
    }
    if (!frozenHead && kernels == null && chunk >= n) {
      return logprobs(model, null, states, targets); // one chunk: plain autograd
    }
    return withJacobian(model, kernels, states, targets, chunk, !frozenHead);
  }

  /**
   * Log-probs whose graph reaches the states through their Jacobian J, chunk by chunk, and, for a
   * head that trains ({@code headGradient}), W's gradient after the backward: from the kernel's
   * -dz, or, without the kernels, by backpropagating each chunk recomputed with a graph to W only.
   */
  private static NDArray withJacobian(
      CausalLM model,
      Kernels kernels,
      NDArray states,
      NDArray targets,
      long chunk,
      boolean headGradient) {
    long n = states.getShape().get(1);
    NDArray w = model.headWeight(); // (V, d)
    boolean keepDz = headGradient && chunk >= n; // one chunk: the kernel's -dz kept for W's
    NDList values = new NDList();
    NDList jacobians = new NDList(); // (B, c, d) each
    NDArray negDz = null; // (B N, V) -d lp / d logits, with one chunk
    try (NoGrad off = NoGrad.enter()) {
      for (long start = 0; start < n; start += chunk) {
        long end = Math.min(n, start + chunk);
        NDArray s = chunk >= n ? states : states.get(":, {}:{}", start, end);
        NDArray tg = chunk >= n ? targets : targets.get(":, {}:{}", start, end);
        if (kernels != null) {
          NDArray[] r = kernels.headLogprobGrads(rows(s), w, tg.flatten(), true, keepDz);
          values.add(r[0].reshape(tg.getShape()));
          jacobians.add(r[1].reshape(s.getShape()));
          negDz = keepDz ? r[2] : null;
          continue;
        }
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
        // (B, c, d); bf16's matmul kernel runs in inference mode, whose tensors autograd cannot
        // save: the copy is an ordinary one
        jacobians.add(model.throughHead(d).duplicate());
        d.close();
      }
    }
    NDArray lp = values.size() == 1 ? values.get(0) : NDArrays.concat(values, 1); // (B, N)
    NDArray jacobian = jacobians.size() == 1 ? jacobians.get(0) : NDArrays.concat(jacobians, 1);
    if (!headGradient) {
      return throughStates(lp, states, jacobian);
    }
    NDArray lpLeaf = DeferredBackward.leaf(lp); // collects the loss's gradient g
    NDArray kept = negDz;
    NDManager outer = states.getManager();
    DeferredBackward.defer(
        () -> {
          NDArray g = DeferredBackward.gradientOf(lpLeaf); // (B, N)
          if (g == null) {
            return; // the loss did not use these log-probs
          }
          for (long start = 0; start < n; start += chunk) {
            long end = Math.min(n, start + chunk);
            if (kernels == null) {
              try (NDManager scope = outer.newSubManager()) {
                states.tempAttach(scope);
                targets.tempAttach(scope);
                g.tempAttach(scope);
                NDArray s = states.get(":, {}:{}", start, end).stopGradient(); // W's part only
                NDArray chunkLp = logprobs(model, null, s, targets.get(":, {}:{}", start, end));
                DeferredBackward.backward(chunkLp, g.get(":, {}:{}", start, end));
              }
              continue;
            }
            // without a graph: gw would otherwise keep each chunk's (c, V) -dz alive through its
            // recorded product until the micro-batch ends, undoing the chunking
            try (NDManager scope = outer.newSubManager();
                NoGrad off = NoGrad.enter()) {
              states.tempAttach(scope);
              targets.tempAttach(scope);
              g.tempAttach(scope);
              NDArray h = rows(kept != null ? states : states.get(":, {}:{}", start, end));
              NDArray gc = (kept != null ? g : g.get(":, {}:{}", start, end)).reshape(-1, 1);
              NDArray negD =
                  kept != null
                      ? kept
                      : kernels
                          .headLogprobGrads(
                              h, w, targets.get(":, {}:{}", start, end).flatten(), false, true)[2];
              // g d lp / d W = dz^T (g h) = (-dz)^T (-g h)
              NDArray gw = negD.transpose().matMul(h.mul(gc).neg()); // (V, d)
              gw.attach(outer); // outlives the chunk's scope
              DeferredBackward.addToWeight(w, gw);
            }
          }
        });
    return throughStates(lpLeaf, states, jacobian);
  }

  /**
   * Whether the model's embedding table is an LM head that trains through the kernels, whose
   * gradient is added after the backward: then the lookup's joins it there ({@link
   * #embedForTiedHead}).
   */
  static boolean tiedHeadByKernel(CausalLM model, NDArray table) {
    return model.config().tieWordEmbeddings()
        && model.head() == Head.LM
        && JniUtils.isGradMode()
        && table.hasGradient()
        && model.fp32Kernels() != null
        && !autogradOnly;
  }

  /**
   * The lookup without a graph; after the backward its gradient is added, row by row, into the
   * head's (V, d) gradient, which then reaches the table once: autograd's embedding backward would
   * fill a (V, d) array of zeros and add it to the table's gradient apart from the head's.
   */
  static NDArray embedForTiedHead(CausalLM model, NDArray ids, NDArray table) {
    long d = table.getShape().get(1);
    NDArray x;
    try (NoGrad off = NoGrad.enter()) {
      x = model.embed(ids, table); // (B, T, d)
    }
    NDArray leaf = DeferredBackward.leaf(x);
    DeferredBackward.defer(
        () -> {
          NDArray g = DeferredBackward.gradientOf(leaf); // (B, T, d)
          NDArray acc = DeferredBackward.takeWeightGradient(table); // (V, d): the head's
          if (g != null) {
            if (acc == null) {
              acc = ids.getManager().zeros(table.getShape());
            }
            try (NoGrad off = NoGrad.enter()) {
              model.fp32Kernels().indexAddRows(acc, ids.flatten(), g.reshape(-1, d));
            }
          }
          if (acc != null) {
            DeferredBackward.addToWeight(table, acc);
          }
        });
    return leaf;
  }

  /**
   * {@code lp}'s values, with the gradient g J for the states: lp + (t - t detached) for t = (h
   * J).sum(-1), whose added term is exactly 0.
   *
   * @param jacobian (B, N, d) d lp / d h, no graph
   */
  private static NDArray throughStates(NDArray lp, NDArray states, NDArray jacobian) {
    NDArray t = states.mul(jacobian).sum(new int[] {-1}); // (B, N)
    return lp.add(t.sub(t.stopGradient()));
  }

  /** (B, c, d) -> (B c, d), contiguous. */
  private static NDArray rows(NDArray states) {
    return states.reshape(-1, states.getShape().get(2));
  }

  /** The chunks one after the other (no graph kept across them). */
  private static NDArray forward(
      CausalLM model, Kernels kernels, NDArray states, NDArray targets, long chunk) {
    long n = states.getShape().get(1);
    NDList parts = new NDList();
    for (long start = 0; start < n; start += chunk) {
      long end = Math.min(n, start + chunk);
      parts.add(
          logprobs(
              model,
              kernels,
              states.get(":, {}:{}", start, end),
              targets.get(":, {}:{}", start, end)));
    }
    return NDArrays.concat(parts, 1);
  }

  /**
   * log-softmax of one chunk's logits at its targets: (B, c, d) -> (B, c). With {@code kernels}
   * (only ever given without a graph) the logits are normalised in place instead.
   */
  private static NDArray logprobs(
      CausalLM model, Kernels kernels, NDArray states, NDArray targets) {
    if (kernels != null) {
      NDArray lp = kernels.headLogprobs(rows(states), model.headWeight(), targets.flatten());
      return lp.reshape(targets.getShape());
    }
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
