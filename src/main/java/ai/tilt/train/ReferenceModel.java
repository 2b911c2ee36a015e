package ai.tilt.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import ai.tilt.runtime.NoGrad;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Function;

/**
 * A frozen model the losses compare the policy with (DPO's pi_ref, the KL anchor of policy
 * gradients): its own weights, never trained, and never part of an autograd graph — its log-probs
 * are computed with grad mode off even inside an open gradient collector, so asking for them costs
 * no graph memory and cannot leak gradients into the policy.
 */
public final class ReferenceModel implements AutoCloseable {
  private final CausalLM model;
  private final boolean view; // the policy itself with its adapters off: closing leaves it alone

  private ReferenceModel(CausalLM model, boolean view) {
    this.model = model;
    this.view = view;
    if (!view) {
      for (NDArray p : model.parameters().values()) {
        p.setRequiresGradient(false);
      }
    }
  }

  /**
   * The precision of a run's reference when it is a copy of the starting weights: {@code
   * model.reference_precision}, else bf16 weights for a bf16-mixed run (half the memory), else
   * fp32.
   */
  static Precision precision(Recipe r) {
    if (r.model().referencePrecision() != null) {
      return r.model().referencePrecision();
    }
    return r.train().precision() == Precision.BF16_MIXED ? Precision.BF16 : Precision.FP32;
  }

  /** The base of a policy with LoRA adapters: the policy itself, with its adapters off. */
  public static ReferenceModel adaptersOff(CausalLM policy) {
    if (policy.lora() == null) {
      throw new IllegalArgumentException("the policy has no adapters to switch off");
    }
    return new ReferenceModel(policy, true);
  }

  /** Wraps a model that nothing else trains (e.g. a second copy of the initial weights). */
  public static ReferenceModel of(CausalLM frozen) {
    return new ReferenceModel(frozen, false);
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
    return new ReferenceModel(ModelFiles.load(dir, device, precision), false);
  }

  /**
   * Per-token log-probs, as {@link CausalLM#tokenLogprobs}, with no graph.
   *
   * @param ids (B, T)
   * @param mask (B, T)
   * @return (B, T - from), attached to the manager of {@code ids}
   */
  public NDArray tokenLogprobs(NDArray ids, NDArray mask, int from) {
    return apply(m -> m.tokenLogprobs(ids, mask, from));
  }

  /**
   * Runs {@code f} on the reference's model, without a graph (and, for a view of the policy, with
   * its adapters switched off for the duration).
   */
  public <T> T apply(Function<CausalLM, T> f) {
    boolean adapters = view && model.lora().enabled();
    if (adapters) {
      model.lora().setEnabled(false);
    }
    try (NoGrad off = NoGrad.enter()) {
      return f.apply(model);
    } finally {
      if (adapters) {
        model.lora().setEnabled(true);
      }
    }
  }

  /** The reference's own model; for a view of the policy, use {@link #apply} instead. */
  public CausalLM model() {
    if (view) {
      throw new IllegalStateException("the reference is the policy with its adapters off: apply()");
    }
    return model;
  }

  @Override
  public void close() {
    if (!view) {
      model.close();
    }
  }
}
