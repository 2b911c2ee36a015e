package ai.tilt.train;

import ai.tilt.data.DataSpec;
import ai.tilt.data.PromptSet;
import ai.tilt.model.CausalLM;
import ai.tilt.reward.Reward;
import ai.tilt.reward.RewardContext;
import ai.tilt.reward.RewardSpec;
import ai.tilt.runtime.Devices;
import ai.tilt.sampling.SamplingParams;
import ai.tilt.tokenizer.TextTokenizer;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** The evaluation of on-policy runs, for any model: {@code tilt eval}. */
public final class OnlineEval {
  private OnlineEval() {}

  public static Map<String, Double> run(
      CausalLM model,
      TextTokenizer tok,
      Path referenceDir,
      RewardSpec spec,
      Path promptFile,
      int samples,
      SamplingParams sampling)
      throws IOException {
    List<PromptSet.Prompt> prompts =
        PromptSet.load(DataSpec.of(promptFile), tok, model.config().vocabSize(), false, true);
    Collector.Settings settings =
        new Collector.Settings(
            Online.Source.ON_POLICY,
            samples,
            sampling.maxNewTokens(),
            sampling.temperature(),
            sampling.topP(),
            sampling.topK(),
            null,
            false);
    long[] eos =
        tok != null && tok.eosIds().length > 0 ? tok.eosIds() : model.config().eosTokenIds();
    try (ReferenceModel reference = ReferenceModel.load(referenceDir, Devices.current());
        Reward reward = spec.create(new RewardContext(tok, Path.of("."), Devices.current()))) {
      Collector collector =
          new Collector(
              model, reference, tok, eos, Rows.padId(tok), 8, new Streams(sampling.seed()));
      return new Evaluator(collector, reference, settings, prompts, reward).evaluate(model);
    }
  }

  /** A few lines for people. */
  public static String describe(Map<String, Double> m) {
    return String.format(
        "  reward %.4f (reference %.4f) | win rate %.3f | KL %.4f | length %.2f | EOS rate %.3f%n",
        m.get("eval/reward"),
        m.get("eval/reference_reward"),
        m.get("eval/win_rate"),
        m.get("eval/kl"),
        m.get("eval/mean_length"),
        m.get("eval/eos_rate"));
  }
}
