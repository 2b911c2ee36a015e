package ai.tilt.train;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Learning rate as a function of the optimizer step: a linear warm-up from 0 to the peak over
 * {@code warmupSteps}, then constant, linear decay or cosine decay down to {@code minLr} at {@code
 * totalSteps}. Step numbers count from 0 (the first update uses step 0), as in HF's schedulers;
 * {@code minLr} is a floor the decay ends on, never undershot.
 *
 * @param kind constant, linear or cosine
 * @param peak the learning rate after warm-up
 * @param minLr the floor
 * @param warmupSteps steps of linear warm-up (0 for none)
 * @param totalSteps steps of the whole run
 */
public record LrSchedule(Kind kind, double peak, double minLr, long warmupSteps, long totalSteps) {
  /** Shape after warm-up. */
  public enum Kind {
    @JsonProperty("constant")
    CONSTANT,
    @JsonProperty("linear")
    LINEAR,
    @JsonProperty("cosine")
    COSINE
  }

  public LrSchedule {
    if (!(peak > 0)) {
      throw new IllegalArgumentException("train.lr must be > 0, got " + peak);
    }
    if (minLr < 0 || minLr > peak) {
      throw new IllegalArgumentException("train.min_lr must be in [0, lr], got " + minLr);
    }
    if (warmupSteps < 0) {
      throw new IllegalArgumentException("train.warmup_steps must be >= 0, got " + warmupSteps);
    }
  }

  /** The learning rate of update number {@code step} (0-based). */
  public double at(long step) {
    if (step < warmupSteps) {
      // (step + 1) / warmup: the first update is already non-zero, the last warm-up step reaches
      // peak
      return peak * (step + 1) / warmupSteps;
    }
    if (kind == Kind.CONSTANT) {
      return peak;
    }
    long decaySteps = Math.max(1, totalSteps - warmupSteps);
    double progress = Math.min(1.0, (double) (step - warmupSteps) / decaySteps);
    double factor = kind == Kind.LINEAR ? 1 - progress : 0.5 * (1 + Math.cos(Math.PI * progress));
    return minLr + (peak - minLr) * factor;
  }
}
