package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.tilt.data.PromptSet;
import ai.tilt.loss.AdvantageOutput;
import ai.tilt.loss.Aggregation;
import ai.tilt.loss.Grpo;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The policy-gradient objective over a hand-made rollout of 2 prompts x 2 completions (1, 3, 2 and
 * 4 tokens; row 3 cut at max_new_tokens = 4) on a tiny random policy: the step's loss does not
 * depend on how the window is split into micro-batches, the three aggregations relate as their
 * denominators do, and {@code mask_truncated_completions} makes the cut row train nothing.
 */
class PolicyObjectiveTest {
  private static final int MAX_NEW = 4;
  @TempDir Path tmp;

  private static Rollout rollout(boolean[] finished) {
    PromptSet.Prompt a =
        new PromptSet.Prompt(
            new long[] {5, 6, 7}, null, JsonNodeFactory.instance.objectNode(), List.of(), null, 1);
    PromptSet.Prompt b =
        new PromptSet.Prompt(
            new long[] {8, 9}, null, JsonNodeFactory.instance.objectNode(), List.of(), null, 2);
    long[][] completions = {{11}, {12, 13, 14}, {15, 16}, {17, 18, 19, 20}};
    float[][] old = new float[4][];
    float[][] ref = new float[4][];
    for (int r = 0; r < 4; r++) {
      old[r] = new float[completions[r].length];
      ref[r] = new float[completions[r].length];
      java.util.Arrays.fill(old[r], -6f); // ratios e^(logp + 6): some clipped, some not
    }
    return new Rollout(
        0,
        List.of(a, b),
        2,
        completions,
        finished,
        null,
        old,
        ref,
        new double[4],
        java.util.Map.of(),
        new String[4]);
  }

  private static AdvantageOutput advantages(Rollout r) {
    double[] perRow = {1.0, -1.0, 0.5, -0.5};
    float[][] a = new float[4][];
    for (int i = 0; i < 4; i++) {
      a[i] = new float[r.completions()[i].length];
      java.util.Arrays.fill(a[i], (float) perRow[i]);
    }
    return new AdvantageOutput(a, null, null);
  }

  /** The step's loss: the sum of the micro-batch losses of a window of these micro-batches. */
  private static double loss(
      Policy p, Rollout r, Aggregation agg, boolean mask, List<List<Integer>> micros) {
    PolicyObjective o =
        new PolicyObjective(
            p,
            new Grpo(0.2, null, 0.0, null, null, null),
            0,
            r,
            advantages(r),
            null,
            agg,
            MAX_NEW,
            mask,
            false);
    Objective.Window w = o.prepare(micros);
    double sum = 0;
    try (NDManager step = p.model().manager().newSubManager()) {
      for (int i = 0; i < w.microBatches(); i++) {
        sum += o.microLoss(step, w, i).getFloat();
      }
    }
    return sum;
  }

  /** A run of a tiny random policy, for objectives built by hand on it. */
  static TrainingRun tinyRun(Path dir, double beta, int maxNewTokens) throws IOException {
    String yaml =
        "model: {init: {arch: llama, preset: tiny}}\ndata: {train: recipes/data/sft-tiny.jsonl}\n"
            + "loss: {type: grpo, beta: "
            + beta
            + "}\nonline: {reward: min_length, max_new_tokens: "
            + maxNewTokens
            + "}\n";
    Recipe recipe =
        RecipeLoader.bind(
            (com.fasterxml.jackson.databind.node.ObjectNode)
                new com.fasterxml.jackson.dataformat.yaml.YAMLMapper().readTree(yaml),
            List.of(),
            "test");
    PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
    return TrainingRun.prepare(recipe, "test", dir, null, quiet);
  }

  @Test
  void splitsAggregationsAndTruncatedRows() throws IOException {
    try (TrainingRun run = tinyRun(tmp.resolve("run"), 0, MAX_NEW)) {
      Policy p = run.policy();
      Rollout all = rollout(new boolean[] {true, true, true, false});
      List<List<Integer>> one = List.of(List.of(0, 1));
      List<List<Integer>> two = List.of(List.of(0), List.of(1));
      for (Aggregation agg : Aggregation.values()) {
        for (boolean mask : new boolean[] {false, true}) {
          double whole = loss(p, all, agg, mask, one);
          double split = loss(p, all, agg, mask, two);
          assertEquals(whole, split, 1e-6 * Math.max(1, Math.abs(whole)), agg + " " + mask);
        }
      }
      // 10 tokens in 4 sequences: per_token x 10 = dr_grpo x 4 x 4 (the same sum over tokens)
      double perToken = loss(p, all, Aggregation.PER_TOKEN, false, one);
      double drGrpo = loss(p, all, Aggregation.SEQ_MEAN_TOKEN_SUM_NORM, false, one);
      assertEquals(perToken * 10, drGrpo * 16, 1e-5);
      assertTrue(Math.abs(perToken - drGrpo) > 1e-4, "the data tells them apart");
      // masked, the cut row 3 (4 tokens) leaves the sum and per_token's count: 6 tokens remain
      double maskedDr = loss(p, all, Aggregation.SEQ_MEAN_TOKEN_SUM_NORM, true, one);
      double maskedTok = loss(p, all, Aggregation.PER_TOKEN, true, one);
      assertEquals(maskedTok * 6, maskedDr * 16, 1e-5);
      // and masking changes the loss where the row had tokens: it is not a no-op
      assertTrue(Math.abs(maskedTok - perToken) > 1e-4);
      // with every row finished, the mask changes nothing
      Rollout done = rollout(new boolean[] {true, true, true, true});
      for (Aggregation agg : Aggregation.values()) {
        assertEquals(loss(p, done, agg, false, one), loss(p, done, agg, true, one), 0.0, agg.key());
      }
      // per_sequence counts the cut row as a sequence with a zero loss, as TRL's grpo does:
      // masked = (unmasked x 4 - row 3's token mean) / 4
      double seq = loss(p, all, Aggregation.PER_SEQUENCE, false, one);
      double seqMasked = loss(p, all, Aggregation.PER_SEQUENCE, true, one);
      double row3 = seq * 4 - seqMasked * 4;
      // the same difference on prompt 2 alone (rows 2 and 3): 2 sequences there
      List<List<Integer>> second = List.of(List.of(1));
      double alone =
          loss(p, all, Aggregation.PER_SEQUENCE, false, second) * 2
              - loss(p, all, Aggregation.PER_SEQUENCE, true, second) * 2;
      assertEquals(row3, alone, 1e-5);
      assertTrue(Math.abs(row3) > 1e-4);
    }
  }
}
