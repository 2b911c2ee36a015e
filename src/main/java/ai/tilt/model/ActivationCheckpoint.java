package ai.tilt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.tilt.runtime.NativeMemory;
import ai.tilt.runtime.NoGrad;
import java.util.ArrayList;
import java.util.List;

/**
 * Gradient (activation) checkpointing (Chen, Xu, Zhang and Guestrin, 2016, "Training Deep Nets with
 * Sublinear Memory Cost", arXiv:1604.06174; what transformers' {@code gradient_checkpointing} does
 * per decoder layer). DJL has no checkpoint function, so it is built from plain autograd: the
 * blocks run without a graph, keeping only each block's input; the last block's output comes back
 * to the caller as a leaf (the final norm and everything after it build their graph on it); after
 * the loss's backward has filled the leaf's gradient, {@link DeferredBackward} walks the blocks in
 * reverse, reruns block i on its saved input with a graph and backpropagates the gradient of its
 * output through it, which yields the gradient of its input for block i - 1. Each block's
 * recomputed activations live in their own scope, freed once its backward has run, so memory holds
 * one block's activations instead of all of them.
 */
final class ActivationCheckpoint {
  private ActivationCheckpoint() {}

  /** The final hidden states, (B, T, d), with a graph back to the checkpointed blocks. */
  static NDArray hidden(CausalLM model, NDArray ids, NDArray positions, CausalLM.Forward f) {
    int layers = model.config().numLayers();
    List<NDArray> inputs = new ArrayList<>(layers); // (B, T, d) each, no graph
    NDArray x;
    try (NoGrad off = NoGrad.enter()) {
      x = model.embedInputs(ids, positions);
      for (int i = 0; i < layers; i++) {
        inputs.add(x);
        int layer = i;
        x = CausalLM.scoped(x, in -> model.block(layer, in, f)); // only the output is kept
      }
    }
    NDArray last = DeferredBackward.leaf(x); // (B, T, d)
    NDArray out = model.finalNorm(last);
    DeferredBackward.defer(
        () -> {
          NDArray g = DeferredBackward.gradientOf(last);
          boolean embeddings = embeddingsTrain(model);
          for (int i = layers - 1; i >= 0 && g != null; i--) {
            NDArray in = inputs.get(i);
            try (NDManager scope = in.getManager().newSubManager()) {
              in.tempAttach(scope); // the block's activations are results of ops on its input
              // the first block's input needs a gradient only when the embeddings train: without
              // it autograd skips the products that would compute it
              in.setRequiresGradient(i > 0 || embeddings);
              NDArray y = model.block(i, in, f);
              DeferredBackward.backward(y, g);
              NDArray gin = DeferredBackward.gradientOf(in);
              if (gin != null) {
                gin.attach(ids.getManager()); // outlives this block's scope
              }
              g = gin;
            }
            if (i % 4 == 0) { // every few blocks: a trim walks the whole heap (about 50 ms at 0.5B)
              NativeMemory.trim(); // the recomputed blocks' activations, before the next ones'
            }
          }
          if (g != null && embeddings) {
            DeferredBackward.backward(model.embedInputs(ids, positions), g);
          }
        });
    return out;
  }

  private static boolean embeddingsTrain(CausalLM model) {
    NDArray table = model.parameters().get(model.names().embed());
    return table != null && table.hasGradient();
  }
}
