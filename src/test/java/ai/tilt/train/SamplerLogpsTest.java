package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * In-process sampling at temperature 1 in fp32 gives the policy's own log-probs, so an iteration
 * whose batch trains one step takes them as the old log-probs and skips the policy's forward over
 * the completions (TRL skips it too); under another temperature, in bf16-mixed, with T > 1 or on
 * servers, the forward runs and the two are compared ({@code sampling/logp_diff}).
 */
class SamplerLogpsTest {
  @TempDir Path tmp;

  private Map<String, Double> firstIteration(String name, String... overrides) throws IOException {
    String yaml =
        "model: {init: {arch: llama, preset: tiny}}\ndata: {train: recipes/data/sft-tiny.jsonl}\n"
            + "loss: {type: grpo, beta: 0}\n"
            + "online: {prompts_per_iteration: 4, samples_per_prompt: 4, max_new_tokens: 8,"
            + " reward: min_length}\n";
    Recipe r =
        RecipeLoader.bind(
            (ObjectNode) new YAMLMapper().readTree(yaml), List.of(overrides), "sampler logps");
    PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
    try (TrainingRun run = TrainingRun.prepare(r, "x", tmp.resolve(name), null, quiet)) {
      IterationPlan plan = run.source().collect(0, run.state());
      plan.objective().close();
      return plan.metrics();
    }
  }

  @Test
  void theSamplersLogProbsServeAsTheOldOnesWhenTheyAreThePolicys() throws IOException {
    Map<String, Double> plain = firstIteration("plain");
    assertFalse(plain.containsKey("sampling/logp_diff"), "nothing to compare: they are the same");
    assertTrue(plain.get("timing/policy_logps_s") < 1e-3, "no forward: " + plain);
    Map<String, Double> tempered = firstIteration("tempered", "online.temperature=0.9");
    assertTrue(tempered.containsKey("sampling/logp_diff"), tempered.toString());
    assertTrue(tempered.get("timing/policy_logps_s") > 1e-3, "the forward ran: " + tempered);
    // at temperature 1 the forward's log-probs and the sampler's agree within float noise: the
    // KL estimate (old - ref, ref being the start) of the first iteration is 0 both ways
    assertEquals(0.0, plain.get("objective/kl"), 1e-4);
    Map<String, Double> bf16 = firstIteration("bf16", "train.precision=bf16-mixed");
    assertTrue(bf16.containsKey("sampling/logp_diff"), "bf16 keeps the forward: " + bf16);
    // a batch trained twice needs the old log-probs of the sampling policy for its second pass
    Map<String, Double> reused = firstIteration("reused", "online.reuse=2");
    assertTrue(reused.containsKey("sampling/logp_diff"), "T = 2 keeps the forward: " + reused);
  }
}
