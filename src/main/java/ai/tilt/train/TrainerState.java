package ai.tilt.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Everything besides weights and optimizer moments that a run needs to continue exactly, written as
 * {@code trainer_state.json} in every checkpoint.
 *
 * <p>No random-generator state is saved because none is needed: DJL cannot save libtorch's, so
 * every random draw in Tilt is a pure function of (seed, step or epoch, stream) — the data order of
 * epoch e is a permutation seeded by (seed, e), and the cursor below says where in it the run
 * stands.
 *
 * @param step optimizer steps done
 * @param samplesSeen training examples consumed (the data cursor over the epoch stream)
 * @param tokensSeen real tokens processed
 * @param epoch current epoch (samplesSeen / dataset size)
 * @param epochCursor position inside the current epoch's permutation
 * @param seed the recipe seed every stream derives from
 * @param lr the learning rate of the last update (the schedule itself is a function of step)
 * @param badSteps steps skipped for a NaN/Inf loss or gradient norm, in total
 * @param badStreak consecutive skipped steps at the time of the checkpoint
 * @param bestEval lowest eval loss so far, or null
 * @param bestEvalStep the step it was measured at, or -1
 * @param extra method state that must survive a resume, by name (on-policy runs: the reward
 *     baseline, the adaptive KL coefficient)
 */
public record TrainerState(
    long step,
    long samplesSeen,
    long tokensSeen,
    long epoch,
    long epochCursor,
    long seed,
    double lr,
    long badSteps,
    int badStreak,
    Double bestEval,
    long bestEvalStep,
    java.util.Map<String, Double> extra) {

  public TrainerState {
    extra = extra == null ? java.util.Map.of() : java.util.Map.copyOf(extra);
  }

  /** The same state with a copy of {@code extra}. */
  public TrainerState withExtra(java.util.Map<String, Double> values) {
    return new TrainerState(
        step,
        samplesSeen,
        tokensSeen,
        epoch,
        epochCursor,
        seed,
        lr,
        badSteps,
        badStreak,
        bestEval,
        bestEvalStep,
        values);
  }

  private static final ObjectMapper JSON =
      new ObjectMapper()
          .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .enable(SerializationFeature.INDENT_OUTPUT);

  public static TrainerState fresh(long seed) {
    return new TrainerState(0, 0, 0, 0, 0, seed, 0, 0, 0, null, -1, null);
  }

  public void write(Path file) throws IOException {
    JSON.writeValue(file.toFile(), this);
  }

  public static TrainerState read(Path file) throws IOException {
    try {
      return JSON.readValue(file.toFile(), TrainerState.class);
    } catch (IOException e) {
      throw new IOException(file + ": cannot read trainer state: " + e.getMessage(), e);
    }
  }
}
