package ai.tilt.reward;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.model.CausalLM;
import ai.tilt.runtime.NoGrad;
import java.util.Arrays;
import java.util.List;

/** The {@link Reward} of a {@link ModelReward}: owns the loaded reward model until closed. */
final class ModelScorer implements Reward {
  private final CausalLM model;
  private final int batchSize;
  private final String name;
  private boolean closed;

  ModelScorer(CausalLM model, int batchSize, String name) {
    this.model = model;
    this.batchSize = batchSize;
    this.name = name;
  }

  @Override
  public double[] score(List<RewardInput> batch) {
    if (closed) {
      throw new IllegalStateException("reward model " + name + " is closed");
    }
    long[][] seqs = new long[batch.size()][];
    int vocab = model.config().vocabSize();
    for (int i = 0; i < seqs.length; i++) {
      seqs[i] = sequence(batch.get(i), i, vocab);
    }
    double[] out = new double[seqs.length];
    // a reward is a constant to the policy's loss: no graph, whatever mode the trainer is in
    try (NoGrad off = NoGrad.enter()) {
      for (int start = 0; start < seqs.length; start += batchSize) {
        int end = Math.min(seqs.length, start + batchSize);
        float[] s = forward(Arrays.copyOfRange(seqs, start, end));
        for (int i = start; i < end; i++) {
          if (!Float.isFinite(s[i - start])) {
            throw new RewardException(error(i, "the reward model's score is " + s[i - start]));
          }
          out[i] = s[i - start];
        }
      }
    }
    return out;
  }

  private long[] sequence(RewardInput in, int item, int vocab) {
    if (in == null) {
      throw new RewardException(error(item, "null input"));
    }
    if (in.completionIds() == null) {
      throw new RewardException(error(item, "no completion ids (a reward model scores token ids)"));
    }
    long[] seq = Arrays.copyOf(in.promptIds(), in.promptIds().length + in.completionIds().length);
    System.arraycopy(in.completionIds(), 0, seq, in.promptIds().length, in.completionIds().length);
    if (seq.length == 0) {
      throw new RewardException(error(item, "no tokens to score (empty prompt and completion)"));
    }
    for (long id : seq) {
      if (id < 0 || id >= vocab) {
        throw new RewardException(
            error(
                item, "token id " + id + " is outside the reward model's vocabulary of " + vocab));
      }
    }
    return seq;
  }

  /** Scores of right-padded sequences, read at each one's last real token. */
  private float[] forward(long[][] seqs) {
    int t = Arrays.stream(seqs).mapToInt(s -> s.length).max().orElse(1);
    int b = seqs.length;
    long[] ids = new long[b * t];
    long[] mask = new long[b * t];
    for (int r = 0; r < b; r++) {
      System.arraycopy(seqs[r], 0, ids, r * t, seqs[r].length);
      Arrays.fill(mask, r * t, r * t + seqs[r].length, 1L);
    }
    // every activation lives in this sub-manager and is freed with it
    try (NDManager m = model.manager().newSubManager()) {
      return model
          .scores(m.create(ids, new Shape(b, t)), m.create(mask, new Shape(b, t)))
          .toFloatArray();
    }
  }

  private String error(int item, String why) {
    return "reward model " + name + ": item " + item + ": " + why;
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      model.close();
    }
  }
}
