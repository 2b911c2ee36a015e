package ai.tilt.train;

import ai.tilt.model.JsonFiles;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Everything besides weights and optimizer moments that a run needs to continue exactly, written as
 * {@code trainer_state.json} in every checkpoint. Changed only through the withers below, each
 * named after the event that changes it.
 *
 * <p>No random-generator state is saved because none is needed: DJL cannot save libtorch's, so
 * every random draw in Tilt is one of the streams {@link Streams} names, each a pure function of
 * (seed, position): the data order of epoch e is {@link Streams#epochOrder}, and the cursor below
 * says where in it the run stands.
 *
 * @param step optimizer steps done (skipped non-finite steps and empty minibatches included)
 * @param iteration iterations of Algorithm 1 done (for training on a dataset file, one per step);
 *     null in checkpoints written before it was recorded
 * @param samplesSeen training examples (or prompts) consumed: the data cursor over the epoch stream
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
    Long iteration,
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
    Map<String, Double> extra) {

  public TrainerState {
    extra = extra == null ? Map.of() : Map.copyOf(extra);
  }

  private static final ObjectMapper JSON =
      new ObjectMapper()
          .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .enable(SerializationFeature.INDENT_OUTPUT);

  public static TrainerState fresh(long seed) {
    return new TrainerState(0, 0L, 0, 0, 0, 0, seed, 0, 0, 0, null, -1, null);
  }

  /** After one optimizer step at {@code lr} over {@code tokens} tokens, applied or skipped. */
  TrainerState afterStep(boolean applied, double lr, long tokens) {
    return new TrainerState(
        step + 1,
        iteration,
        samplesSeen,
        tokensSeen + tokens,
        epoch,
        epochCursor,
        seed,
        lr,
        badSteps + (applied ? 0 : 1),
        applied ? 0 : badStreak + 1,
        bestEval,
        bestEvalStep,
        extra);
  }

  /** After an iteration that consumed {@code samples} of an epoch of {@code epochSize}. */
  TrainerState afterIteration(long samples, long epochSize, Map<String, Double> carried) {
    long seen = samplesSeen + samples;
    return new TrainerState(
        step,
        iteration + 1,
        seen,
        tokensSeen,
        seen / epochSize,
        seen % epochSize,
        seed,
        lr,
        badSteps,
        badStreak,
        bestEval,
        bestEvalStep,
        carried);
  }

  /** With an evaluation loss, kept when it is the best so far. */
  TrainerState withEval(double loss) {
    if (Double.isNaN(loss) || (bestEval != null && loss >= bestEval)) {
      return this;
    }
    return new TrainerState(
        step,
        iteration,
        samplesSeen,
        tokensSeen,
        epoch,
        epochCursor,
        seed,
        lr,
        badSteps,
        badStreak,
        loss,
        step,
        extra);
  }

  /**
   * With the streak of non-finite steps forgotten: what a resume after a divergence starts from.
   */
  TrainerState withStreakCleared() {
    return new TrainerState(
        step,
        iteration,
        samplesSeen,
        tokensSeen,
        epoch,
        epochCursor,
        seed,
        lr,
        badSteps,
        0,
        bestEval,
        bestEvalStep,
        extra);
  }

  /** With the iteration count of a checkpoint that did not record it ({@code step / per}). */
  TrainerState withIterationFromSteps(int stepsPerIteration) {
    if (iteration != null) {
      return this;
    }
    return new TrainerState(
        step,
        step / stepsPerIteration,
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
        extra);
  }

  public void write(Path file) throws IOException {
    JSON.writeValue(file.toFile(), this);
  }

  public static TrainerState read(Path file) throws IOException {
    try {
      return JSON.treeToValue(JsonFiles.read(file), TrainerState.class);
    } catch (JsonProcessingException e) {
      throw new IOException(file + ": not a trainer state: " + e.getOriginalMessage(), e);
    }
  }
}
