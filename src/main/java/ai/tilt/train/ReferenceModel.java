package ai.tilt.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Devices;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import java.io.IOException;
import java.nio.file.Path;

/**
 * A frozen model the losses compare the policy with (DPO's pi_ref, the KL anchor of policy
 * gradients): its own weights, never trained, and never part of an autograd graph — its log-probs
 * are computed with grad mode off even inside an open gradient collector, so asking for them costs
 * no graph memory and cannot leak gradients into the policy.
 */
public final class ReferenceModel implements AutoCloseable {
  private final CausalLM model;

  private ReferenceModel(CausalLM model) {
    this.model = model;
    for (NDArray p : model.parameters().values()) {
      p.setRequiresGradient(false);
    }
  }

  /**
   * The reference of a run: its starting model, in {@code model.reference_precision}, else bf16
   * weights for a bf16-mixed run (half the memory) and fp32 otherwise.
   */
  static ReferenceModel forRun(Recipe r, Path initial) throws IOException {
    return load(initial, Devices.current(), precision(r));
  }

  /** The reference's precision for a recipe (see {@link #forRun}). */
  static Precision precision(Recipe r) {
    if (r.model().referencePrecision() != null) {
      return r.model().referencePrecision();
    }
    return r.train().precision() == Precision.BF16_MIXED ? Precision.BF16 : Precision.FP32;
  }

  /** Wraps a model that nothing else trains (e.g. a second copy of the initial weights). */
  public static ReferenceModel of(CausalLM frozen) {
    return new ReferenceModel(frozen);
  }

  /**
   * Loads the weights of a HF directory (typically the policy's starting point) as the reference.
   */
  public static ReferenceModel load(Path dir, Device device) throws IOException {
    return load(dir, device, Precision.FP32);
  }

  /**
   * As {@link #load(Path, Device)}, computing in the given precision ({@code bf16} halves its
   * memory).
   */
  public static ReferenceModel load(Path dir, Device device, Precision precision)
      throws IOException {
    return new ReferenceModel(ModelFiles.load(dir, device, precision));
  }

  /**
   * Per-token log-probs, as {@link CausalLM#tokenLogprobs}, with no graph.
   *
   * @param ids (B, T)
   * @param mask (B, T)
   * @return (B, T - from), attached to the manager of {@code ids}
   */
  public NDArray tokenLogprobs(NDArray ids, NDArray mask, int from) {
    boolean grad = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try {
      return model.tokenLogprobs(ids, mask, from);
    } finally {
      JniUtils.setGradMode(grad);
    }
  }

  public CausalLM model() {
    return model;
  }

  @Override
  public void close() {
    model.close();
  }
}
