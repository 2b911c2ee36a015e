package ai.tilt.train;

import java.util.Map;

/**
 * What one iteration trains on, as the loop consumes it: an objective over some items, to be
 * visited in {@code passes} passes of minibatches of {@code minibatch} items (Tajwar et al., 2024,
 * Algorithm 1: T passes of minibatch updates over the B collected prompts). A rollout (the sampled
 * and scored responses) becomes one of these; so does the next batch of a dataset.
 *
 * @param objective the micro-batch losses, addressed by item
 * @param items the objective's indices this iteration trains on: dataset examples, or the prompts
 *     of a rollout
 * @param passes T
 * @param minibatch M, items per optimizer step
 * @param passOrder the order each pass visits the items in; null keeps their order (a dataset
 *     batch, already drawn from a shuffled epoch)
 * @param samples examples or prompts consumed: the data cursor advances by this
 * @param carried method state for the next iteration (becomes {@link TrainerState#extra()})
 * @param collectSeconds time spent collecting (sampling, scoring); 0 for a dataset batch
 * @param metrics what collection measured (rollout statistics, stage timings)
 */
record IterationPlan(
    Objective objective,
    int[] items,
    int passes,
    int minibatch,
    Streams.PassOrder passOrder,
    int samples,
    Map<String, Double> carried,
    double collectSeconds,
    Map<String, Double> metrics) {

  /** The items in the order pass {@code pass} visits them. */
  int[] order(int pass) {
    if (passOrder == null) {
      return items;
    }
    long[] perm = passOrder.of(items.length, pass);
    int[] out = new int[items.length];
    for (int i = 0; i < out.length; i++) {
      out[i] = items[(int) perm[i]];
    }
    return out;
  }

  /** Optimizer steps this plan makes: T passes over ceil(items / M) minibatches. */
  int steps() {
    return passes * ((items.length + minibatch - 1) / minibatch);
  }
}
