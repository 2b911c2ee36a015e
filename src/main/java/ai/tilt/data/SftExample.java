package ai.tilt.data;

/**
 * One supervised fine-tuning example, as the trainer consumes it.
 *
 * <p>Shapes: {@code ids} is {@code [T]}, the whole sequence (prompt, completion and, for text
 * completions, the appended EOS); {@code targets} is {@code [T]} too, aligned with {@code ids}:
 * {@code targets[t]} is true when the loss includes {@code log p(ids[t] | ids[<t])}, i.e. the
 * logits at position {@code t - 1} predicting token {@code t}. {@code targets[0]} is always false
 * (nothing predicts the first token) and at least one target is true.
 *
 * <p>Targets come from where the tokens came from (completion, assistant turn), never from
 * comparing ids with the pad or EOS id, so an EOS that equals the pad id is still trained on.
 *
 * @param ids token ids {@code [T]}
 * @param targets which tokens are trained on {@code [T]}
 * @param line the 1-based line of the JSONL file the example came from
 * @param truncated whether the prompt or the completion was cut to fit the length limits
 */
public record SftExample(long[] ids, boolean[] targets, int line, boolean truncated) {

  /** Checks the shape invariants above. */
  public SftExample {
    if (ids.length != targets.length) {
      throw new IllegalArgumentException(
          "ids and targets differ in length: " + ids.length + " vs " + targets.length);
    }
    if (targets.length > 0 && targets[0]) {
      throw new IllegalArgumentException("targets[0] must be false: no position predicts it");
    }
  }

  /** Number of tokens, T. */
  public int length() {
    return ids.length;
  }

  /** Number of tokens trained on. */
  public int targetCount() {
    int n = 0;
    for (boolean t : targets) {
      n += t ? 1 : 0;
    }
    return n;
  }

  /** Index of the first target (the prompt length), or -1 when there is none. */
  public int firstTarget() {
    for (int t = 0; t < targets.length; t++) {
      if (targets[t]) {
        return t;
      }
    }
    return -1;
  }
}
