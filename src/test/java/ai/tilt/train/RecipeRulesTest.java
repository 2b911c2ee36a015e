package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.sampling.GeneratorSpec;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every rule that ties sections together is decided by {@link Recipe#validate}, before anything
 * loads, with the keys named; and online.generator binds to its sealed type.
 */
class RecipeRulesTest {
  private static final String BASE = "model: {init: {arch: llama}}\ndata: {train: p.jsonl}\n";

  @TempDir Path tmp;

  private static Recipe recipe(String yaml, String... overrides) throws IOException {
    return RecipeLoader.bind(
        (ObjectNode) new YAMLMapper().readTree(BASE + yaml), List.of(overrides), "test");
  }

  private static String refused(String yaml, String... overrides) throws IOException {
    Recipe r = recipe(yaml, overrides);
    return assertThrows(IllegalArgumentException.class, r::validate).getMessage();
  }

  @Test
  void crossSectionRulesNameTheirKeys() throws IOException {
    String online = "online: {reward: min_length}\n";
    String server =
        "online: {reward: min_length, generator: {type: server, url: 'http://h:1', model: p}}\n";
    assertTrue(refused("loss: grpo\n").contains("add an online: section"));
    assertTrue(refused("loss: sft\n" + online).contains("not sft"));
    assertTrue(refused("loss: reward_model\n" + online).contains("not reward_model"));
    assertTrue(
        refused("loss: dpo\n" + server, "online.source=offline")
            .contains("online.generator: a server samples on-policy"));
    assertTrue(
        refused("loss: dpo\n" + server, "online.generator.update=lora_adapter")
            .contains("online.generator.update lora_adapter needs model.lora"));
    assertTrue(
        refused("loss: dpo\n" + server, "model.lora={rank: 4}")
            .contains("weights_from_disk sends full weights, but model.lora"));
    assertTrue(
        refused("loss: kto\n", "model.precompute_reference=true")
            .contains("model.precompute_reference does not work with kto"));
    assertTrue(
        refused("loss: dpo\ntrain: {batch_size: 6, micro_batch_size: 4}\n")
            .contains("train.batch_size (6) must be a positive multiple"));
    assertTrue(refused("train: {precision: bf16}\n").contains("train.precision bf16"));
    assertTrue(refused("loss: dpo\n" + online, "online.reward=null").contains("online.reward"));
    String both = refused("", "model.path=m");
    assertTrue(both.contains("exactly one of model.path and model.init"), both);
    // and what the rules allow passes
    recipe("loss: dpo\n" + server).validate();
    recipe("loss: dpo\n" + server, "online.generator.update=lora_adapter", "model.lora={rank: 4}")
        .validate();
    recipe("loss: grpo\n" + online).validate();
  }

  /** The aggregation names users know bind to the three modes; the constant one needs rollouts. */
  @Test
  void lossAggregationNamesAndWhereTheyApply() throws IOException {
    String online = "online: {reward: min_length, max_new_tokens: 7}\n";
    String[][] names = {
      {"per_token", "PER_TOKEN"},
      {"token_mean", "PER_TOKEN"},
      {"token-mean", "PER_TOKEN"},
      {"per_sequence", "PER_SEQUENCE"},
      {"seq_mean_token_mean", "PER_SEQUENCE"},
      {"seq_mean_token_sum_norm", "SEQ_MEAN_TOKEN_SUM_NORM"},
      {"seq-mean-token-sum-norm", "SEQ_MEAN_TOKEN_SUM_NORM"},
      {"dr_grpo", "SEQ_MEAN_TOKEN_SUM_NORM"}
    };
    for (String[] n : names) {
      Recipe r = recipe("loss: grpo\n" + online, "train.loss_normalization=" + n[0]);
      assertEquals(n[1], r.train().lossNormalization().name(), n[0]);
      r.validate();
    }
    assertTrue(
        refused("loss: sft\n", "train.loss_normalization=dr_grpo")
            .contains("seq_mean_token_sum_norm divides by online.max_new_tokens"));
    assertTrue(
        refused("loss: dpo\n" + online, "train.loss_normalization=dr_grpo").contains("not dpo"));
    assertTrue(
        refused("loss: dpo\n" + online, "online.mask_truncated_completions=true")
            .contains("online.mask_truncated_completions masks tokens of a policy-gradient loss"));
    recipe("loss: grpo\n" + online, "online.mask_truncated_completions=true").validate();
    String bad =
        assertThrows(
                IllegalArgumentException.class,
                () -> recipe("loss: grpo\n" + online, "train.loss_normalization=bnpo"))
            .getMessage();
    assertTrue(bad.contains("train.loss_normalization"), bad);
  }

  @Test
  void dynamicSamplingNeedsGroupsOfSamples() throws IOException {
    String online = "online: {reward: min_length, dynamic_sampling: {max_extra_rounds: 3}}\n";
    Recipe r = recipe("loss: grpo\n" + online);
    r.validate();
    assertEquals(3, r.online().dynamicSampling().maxExtraRounds());
    assertEquals(
        4,
        recipe("loss: grpo\n" + online, "online.dynamic_sampling={}")
            .online()
            .dynamicSampling()
            .maxExtraRounds());
    assertTrue(
        refused("loss: grpo\n" + online, "online.samples_per_prompt=1")
            .contains("samples_per_prompt >= 2"));
    assertTrue(refused("loss: grpo\n" + online, "online.source=offline").contains("on_policy"));
    String server =
        "online: {reward: min_length, dynamic_sampling: {}, generator: {type: server, url:"
            + " 'http://h:1', model: p, staleness: 1, overlap: true}}\n";
    assertTrue(refused("loss: grpo\n" + server).contains("overlap"));
    String bad =
        assertThrows(
                IllegalArgumentException.class,
                () ->
                    recipe("loss: grpo\n" + online, "online.dynamic_sampling.max_extra_rounds=-1"))
            .getMessage();
    assertTrue(bad.contains("online.dynamic_sampling.max_extra_rounds must be >= 0"), bad);
  }

  @Test
  void severalWorkersRefuseOverlappedSampling() throws IOException {
    String overlap =
        "online: {reward: min_length, generator: {type: server, url: 'http://h:1', model: p,"
            + " staleness: 1, overlap: true}}\n";
    Recipe r = recipe("loss: grpo\n" + overlap);
    r.validate(1); // one process may overlap
    String why = assertThrows(IllegalArgumentException.class, () -> r.validate(2)).getMessage();
    assertTrue(why.contains("online.generator.overlap") && why.contains("2 workers"), why);
    recipe("loss: grpo\n" + overlap, "online.generator.overlap=false").validate(2);
  }

  @Test
  void theGeneratorIsASealedChoice() throws IOException {
    assertEquals(
        new GeneratorSpec.InProcess(),
        recipe("online: {reward: min_length}\n").online().generator());
    assertEquals(
        new GeneratorSpec.InProcess(),
        recipe("online: {reward: min_length, generator: in_process}\n").online().generator());
    String unknown =
        assertThrows(
                IllegalArgumentException.class,
                () -> recipe("online: {reward: min_length, generator: {type: vllm}}\n"))
            .getMessage();
    assertTrue(
        unknown.contains("unknown generator type 'vllm'") && unknown.contains("in_process, server"),
        unknown);
    String untyped =
        assertThrows(
                IllegalArgumentException.class,
                () -> recipe("online: {reward: min_length, generator: {staleness: 1}}\n"))
            .getMessage();
    assertTrue(untyped.contains("'online.generator' needs a type"), untyped);
    String serverKey =
        assertThrows(
                IllegalArgumentException.class,
                () ->
                    recipe(
                        "online: {reward: min_length, generator: {type: in_process, staleness:"
                            + " 1}}\n"))
            .getMessage();
    assertTrue(serverKey.contains("'online.generator.staleness'"), serverKey);
  }

  /** A checkpoint of the release before the generator was a choice carries the server keys. */
  @Test
  void aSavedRecipeOfTheEarlierGeneratorShapeStillLoads() throws IOException {
    Path saved =
        Files.writeString(
            tmp.resolve("recipe.yaml"),
            BASE
                + "loss: {type: dpo}\nonline:\n  reward: {type: min_length}\n  generator:\n"
                + "    type: in_process\n    url: []\n    model: null\n    max_concurrency: 8\n"
                + "    timeout_s: 600.0\n    retries: 3\n    backoff_s: 1.0\n"
                + "    update: weights_from_disk\n    update_path: /update_weights_from_disk\n"
                + "    weights_dir: null\n    staleness: 0\n    overlap: false\n"
                + "    importance_sampling_cap: 2.0\n");
    Recipe r = RecipeLoader.loadSaved(saved);
    assertEquals(new GeneratorSpec.InProcess(), r.online().generator());
    assertTrue(
        RecipeLoader.diff(r, recipe("loss: dpo\nonline: {reward: min_length}\n"))
            .refused()
            .isEmpty());
  }
}
