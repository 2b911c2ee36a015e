package ai.tilt.model;

import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Backward passes the model runs after the loss's own, for the parts of its graph it did not keep.
 * To bound memory the model hands the loss a leaf tensor in place of such a part (the log-probs of
 * a big-vocabulary head computed chunk by chunk without a graph; the output of checkpointed decoder
 * blocks) and leaves here how to recompute that part and push the leaf's gradient through it. The
 * loss's backward fills the leaves' gradients; {@link #run} then runs the continuations, newest
 * first, so a head's continuation (registered after its forward's) delivers its gradient to the
 * hidden states before the blocks' continuation walks them back.
 *
 * <p>One training thread per process (DJL allows one gradient collector): the stack is static.
 */
public final class DeferredBackward {
  private static final Deque<Runnable> PENDING = new ArrayDeque<>();

  private DeferredBackward() {}

  /** Leaves a continuation for after the loss's backward. */
  static void defer(Runnable continuation) {
    PENDING.push(continuation);
  }

  /** Runs every continuation, newest first (a continuation may leave more). */
  public static void run() {
    while (!PENDING.isEmpty()) {
      PENDING.pop().run();
    }
  }

  /** Forgets continuations of a forward whose loss was never backpropagated (an error path). */
  public static void clear() {
    PENDING.clear();
  }

  /** Whether continuations wait (tests). */
  public static boolean pending() {
    return !PENDING.isEmpty();
  }

  /** A detached copy of {@code x} that collects the gradient flowing into it. */
  static NDArray leaf(NDArray x) {
    NDArray leaf = x.stopGradient();
    leaf.setRequiresGradient(true);
    return leaf;
  }

  /** The gradient a leaf collected, or null when nothing reached it. */
  static NDArray gradientOf(NDArray leaf) {
    return JniUtils.getGradient((PtNDArray) leaf);
  }

  /**
   * As {@link #backward}, doing nothing when {@code output} has no graph (DJL's requiresGrad only
   * answers for leaves, so the graph is found by trying).
   */
  static void backwardIfGraph(NDArray output, NDArray gradient) {
    try {
      backward(output, gradient);
    } catch (EngineException e) {
      if (e.getMessage() == null || !e.getMessage().contains("does not require grad")) {
        throw e;
      }
    }
  }

  /** Backpropagates {@code gradient} through {@code output}'s graph (vector-Jacobian product). */
  static void backward(NDArray output, NDArray gradient) {
    JniUtils.backward((PtNDArray) output, (PtNDArray) gradient, false, false);
  }
}
