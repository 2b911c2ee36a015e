package ai.tilt.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import ai.tilt.dist.Group;
import ai.tilt.dist.Solo;
import ai.tilt.model.DeferredBackward;
import ai.tilt.runtime.NativeMemory;
import java.util.Map;

/**
 * One optimizer step: forward and backward over every micro-batch of the accumulation window
 * (gradients add up across backward calls, as in PyTorch), then, data-parallel, one bucketed
 * all-reduce that sums every worker's gradients (each worker's losses were already divided by the
 * whole step's denominator, so the sum is the one-process gradient), the global gradient norm, the
 * non-finite guard, clipping, the AdamW update and zeroing. Every worker then holds the same
 * gradients and makes the same decisions and the same update.
 *
 * <p>Everything the step creates lives in one sub-manager closed at its end; parameters and
 * optimizer state are temporarily attached to it so that gradient wrappers and in-place update
 * temporaries die with it too (shared/notes/djl.md section 3: without this, memory grows by
 * megabytes per step).
 */
public final class TrainStep {
  /** The loss of micro-batch {@code i}, already divided by the window's normaliser. */
  public interface MicroLoss {
    /**
     * @param step the manager every array of this micro-batch must be created in
     * @param i micro-batch index within the window
     * @return a scalar loss whose gradient is wanted
     */
    NDArray loss(NDManager step, int i);
  }

  /**
   * What a step did.
   *
   * @param loss sum of the micro-batch losses (the step's loss, summed over workers)
   * @param gradNorm global L2 norm of the gradients before clipping
   * @param applied false when the loss or the norm was NaN/Inf and the update was skipped
   */
  public record Result(double loss, double gradNorm, boolean applied) {}

  private final NDManager parent;
  private final Map<String, NDArray> trainable;
  private final Optimizer optimizer;
  private final double maxGradNorm;
  private final Group group;

  /** A step of one process. */
  public TrainStep(
      NDManager parent, Map<String, NDArray> trainable, Optimizer optimizer, double maxGradNorm) {
    this(parent, trainable, optimizer, maxGradNorm, Solo.INSTANCE);
  }

  /** A step of every worker of {@code group}. */
  public TrainStep(
      NDManager parent,
      Map<String, NDArray> trainable,
      Optimizer optimizer,
      double maxGradNorm,
      Group group) {
    this.parent = parent;
    this.trainable = trainable;
    this.optimizer = optimizer;
    this.maxGradNorm = maxGradNorm;
    this.group = group;
  }

  public Result run(int microBatches, MicroLoss microLoss, double lr) {
    try (NDManager step = parent.newSubManager()) {
      for (NDArray p : trainable.values()) {
        p.tempAttach(step);
      }
      for (NDArray s : optimizer.stateArrays()) {
        s.tempAttach(step);
      }
      double loss = 0;
      try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
        for (int i = 0; i < microBatches; i++) {
          // each micro-batch's activations die with its own scope once its backward has run, so
          // accumulating k micro-batches needs the memory of one, not of one batch k times larger
          try (NDManager micro = step.newSubManager()) {
            NDArray l = microLoss.loss(micro, i);
            // with the parts of the graph the model did not keep (checkpointed blocks, the head)
            DeferredBackward.backward(gc, l);
            loss += l.getFloat();
            NativeMemory.trim();
          } finally {
            DeferredBackward.clear();
          }
        }
      }
      loss = group.sum(loss)[0];
      double norm = optimizer.reduceGradients(group);
      boolean finite = Double.isFinite(loss) && Double.isFinite(norm);
      if (finite) {
        if (maxGradNorm > 0 && norm > maxGradNorm) {
          optimizer.clip((float) (maxGradNorm / (norm + 1e-6)));
        }
        optimizer.update(lr);
      }
      for (NDArray p : trainable.values()) {
        // torch's zero_(): clears NaN too, unlike subtracting the gradient from itself
        JniUtils.zeroGrad((PtNDArray) p);
      }
      return new Result(loss, norm, finite);
    }
  }
}
