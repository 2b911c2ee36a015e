package ai.tilt.runtime;

import ai.djl.pytorch.jni.JniUtils;

/**
 * Autograd off for a block, then back to what it was: {@code try (NoGrad off = NoGrad.enter())
 * {...}}. libtorch's grad mode is per thread, so what runs inside records no graph (a reference's
 * log-probs, a reward, sampling, a recompute) even while a gradient collector is open around it.
 */
public final class NoGrad implements AutoCloseable {
  private final boolean before;

  private NoGrad(boolean before) {
    this.before = before;
  }

  /** Turns grad mode off on this thread until {@link #close}. */
  public static NoGrad enter() {
    boolean before = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    return new NoGrad(before);
  }

  /** Restores the grad mode {@link #enter} found. */
  @Override
  public void close() {
    JniUtils.setGradMode(before);
  }
}
