package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.tilt.dist.Group;
import ai.tilt.runtime.NoGrad;
import java.util.Map;

/**
 * Failures that tests plant in one worker of a data-parallel job at one step, through system
 * properties (the launcher passes its {@code -D} flags to every worker): {@code
 * -Dtilt.dist.perturb=RANK@STEP} (a worker whose weights drift, for the divergence guard) and
 * {@code -Dtilt.dist.stall=RANK@STEP} (a worker that hangs, for the roll call) and {@code
 * -Dtilt.dist.die=RANK@STEP} (one that dies, for the roll call). Nothing happens without them.
 */
final class FaultHooks {
  private FaultHooks() {}

  private static boolean asked(String property, Group group, long step) {
    String at = System.getProperty(property);
    return at != null && at.equals(group.rank() + "@" + step);
  }

  /** After {@code step}, worker RANK's first trainable weight moves by 1e-3. */
  static void perturbIfAsked(Group group, Map<String, NDArray> trainable, long step) {
    if (!asked("tilt.dist.perturb", group, step)) {
      return;
    }
    try (NoGrad off = NoGrad.enter()) {
      trainable.values().iterator().next().addi(1e-3f);
    }
  }

  /**
   * After {@code step}, worker RANK stops answering, as a hung one does (until it is killed), or,
   * with {@code tilt.dist.die}, ends at once with code 137, as one killed with -9 does.
   */
  static void failIfAsked(Group group, long step) {
    if (asked("tilt.dist.die", group, step)) {
      Runtime.getRuntime().halt(137);
    }
    if (!asked("tilt.dist.stall", group, step)) {
      return;
    }
    try {
      Thread.sleep(Long.MAX_VALUE);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
