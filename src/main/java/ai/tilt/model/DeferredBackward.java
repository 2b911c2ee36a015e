package ai.tilt.model;

import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.Map;

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
  // weight -> gradient its continuations produced, added to the weight once they have all run
  private static final Map<NDArray, NDArray> WEIGHT_GRADIENTS = new IdentityHashMap<>();

  private DeferredBackward() {}

  /**
   * Backpropagates a loss through the model: {@code gc.backward(loss)}, then every continuation it
   * left. Every backward through a model's forward must go through here (or call {@link #run}
   * itself): the fp32 LM head, checkpointed blocks and LoRA's frozen head deliver their gradients
   * only in continuations.
   */
  public static void backward(GradientCollector gc, NDArray loss) {
    try {
      gc.backward(loss);
      run();
    } finally {
      clear();
    }
  }

  /** Leaves a continuation for after the loss's backward. */
  static void defer(Runnable continuation) {
    PENDING.push(continuation);
  }

  /**
   * Runs every continuation, newest first (a continuation may leave more), then adds the weight
   * gradients they left ({@link #addToWeight}) to the weights' own.
   */
  public static void run() {
    while (!PENDING.isEmpty()) {
      PENDING.pop().run();
    }
    for (Map.Entry<NDArray, NDArray> e : WEIGHT_GRADIENTS.entrySet()) {
      NDArray w = e.getKey();
      backward(w.reshape(w.getShape()), e.getValue()); // through a view: AccumulateGrad adds it
    }
    WEIGHT_GRADIENTS.clear();
  }

  /** Forgets continuations of a forward whose loss was never backpropagated (an error path). */
  public static void clear() {
    PENDING.clear();
    WEIGHT_GRADIENTS.clear();
  }

  /**
   * Adds {@code g} to what weight {@code w} gets when the continuations have run. A tied LM head
   * and embedding both leave theirs here, so the weight's gradient grows by their sum, once per
   * micro-batch, as autograd adds them (summed in its input buffer) when they share one backward:
   * that keeps k workers' summed gradients equal to one worker's to the bit.
   *
   * @param g owned by the caller's micro-batch, and written in place by later additions
   */
  static void addToWeight(NDArray w, NDArray g) {
    NDArray before = WEIGHT_GRADIENTS.get(w);
    WEIGHT_GRADIENTS.put(w, before == null ? g : before.addi(g));
  }

  /** Removes and returns what {@link #addToWeight} holds for {@code w}, or null. */
  static NDArray takeWeightGradient(NDArray w) {
    return WEIGHT_GRADIENTS.remove(w);
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
