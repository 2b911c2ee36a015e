package ai.tilt.cli;

import ai.tilt.model.CausalLM;
import ai.tilt.model.Precision;
import ai.tilt.reward.RewardSpec;
import ai.tilt.sampling.SamplingParams;
import ai.tilt.tokenizer.TextTokenizer;
import ai.tilt.train.OnlineEval;
import ai.tilt.train.RecipeLoader;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tilt eval}: the on-policy evaluation of any checkpoint. */
@Command(
    name = "eval",
    mixinStandardHelpOptions = true,
    description = {
      "Samples held-out prompts with a model and reports the mean reward, the KL to a reference, completion"
          + " length, EOS rate and the win rate against the reference's samples of the same prompts (as"
          + " training's eval/* metrics); ends with one JSON line."
    })
public final class EvalCommand implements Callable<Integer> {
  @Mixin ModelOptions model;

  @Option(
      names = "--reward",
      required = true,
      description =
          "the reward, as in a recipe: a name (min_length) or YAML ('{type: bump, center: 70}')")
  String reward;

  @Option(
      names = "--prompts",
      required = true,
      description =
          "prompts (prompt, messages or prompt_ids): JSONL, Parquet, a shard or save_to_disk"
              + " folder, or a hub dataset name")
  Path prompts;

  @Option(
      names = "--reference",
      description =
          "reference model for KL and win rate (default: the model itself, or an adapter's base)")
  Path reference;

  @Option(
      names = "--samples",
      defaultValue = "1",
      description = "samples per prompt (default: ${DEFAULT-VALUE})")
  int samples;

  @Mixin SamplingOptions sampling;

  @Override
  public Integer call() throws Exception {
    SamplingParams params = sampling.params(false, false); // flags checked before any loading
    RewardSpec rewardSpec = rewardOption(reward, "--reward");
    try (CausalLM lm = model.load(Precision.FP32);
        TextTokenizer tok = model.tokenizer()) {
      Map<String, Double> m =
          OnlineEval.run(
              lm,
              tok,
              reference != null ? reference : model.base(),
              rewardSpec,
              prompts,
              samples,
              params);
      System.err.print(OnlineEval.describe(m));
      System.out.println(new ObjectMapper().writeValueAsString(m));
    }
    return 0;
  }

  /**
   * A reward given on the command line: a name ({@code min_length}) or a YAML mapping with a type.
   */
  static RewardSpec rewardOption(String text, String option) throws IOException {
    JsonNode spec = new YAMLMapper().readTree(text);
    ObjectNode tree =
        spec != null && spec.isTextual()
            ? new ObjectMapper().createObjectNode().put("type", spec.asText())
            : spec instanceof ObjectNode o ? o : null;
    if (tree == null) {
      throw new IllegalArgumentException(
          option + " must be a name or a YAML mapping with a type, got: " + text);
    }
    return RecipeLoader.bind(tree, List.of(), option, RewardSpec.class);
  }
}
