package ai.tilt.model;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Numeric precision of a model's compute (litgpt's names).
 *
 * <ul>
 *   <li>{@code fp32}: everything in float32.
 *   <li>{@code bf16-mixed}: float32 master weights (what the optimizer updates and checkpoints
 *       hold); every matmul and the attention run in bfloat16, with the casts inside the autograd
 *       graph so gradients reach the float32 masters; norms, softmax, log-softmax and losses stay
 *       float32.
 *   <li>{@code bf16}: matrices and embeddings held in bfloat16, for models that only infer (a
 *       frozen reference, a reward model, generation), halving their memory; cannot train or be
 *       saved.
 * </ul>
 */
public enum Precision {
  @JsonProperty("fp32")
  FP32("fp32"),
  @JsonProperty("bf16-mixed")
  BF16_MIXED("bf16-mixed"),
  @JsonProperty("bf16")
  BF16("bf16");

  public final String label;

  Precision(String label) {
    this.label = label;
  }

  /** The precision named {@code fp32}, {@code bf16-mixed} or {@code bf16}. */
  public static Precision of(String label) {
    for (Precision p : values()) {
      if (p.label.equals(label)) {
        return p;
      }
    }
    throw new IllegalArgumentException(
        "unknown precision '" + label + "' (fp32, bf16-mixed, bf16)");
  }
}
