package ai.tilt.reward;

import ai.tilt.doc.Doc;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Head;
import ai.tilt.model.ModelFiles;
import ai.tilt.runtime.HubCache;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A learned reward model: a HF *ForSequenceClassification directory with one label (e.g. one
 * trained with {@code loss: reward_model}), the paper's proxy reward r̂_φ (Algorithm 1, step 3;
 * shared/notes/paper.md sections 2.2 and 5.1). Each sequence is {@code promptIds + completionIds}
 * exactly as given (the caller decides whether the stop token is in; training's reward-model data
 * ends completions with EOS, so sampled finished completions match it) and is scored at its last
 * real token, right-padded, {@code batch_size} sequences per forward pass, with no autograd graph.
 *
 * <p>The ids must be in the reward model's vocabulary: it shares the policy's tokenizer (an id
 * outside its vocabulary is an error naming the item). Closing the reward frees the model.
 *
 * @param path reward-model directory (required; relative paths resolve against the context's base)
 * @param batchSize sequences per forward pass (default 16)
 */
public record ModelReward(
    @Doc(
            "reward-model directory, or a hub name in the HuggingFace cache: a"
                + " *ForSequenceClassification with one label (required)")
        String path,
    @Doc("sequences per forward pass (default 16)") Integer batchSize)
    implements RewardSpec {

  public ModelReward {
    Rules.required("path", path, "a reward-model directory");
    batchSize = batchSize == null ? 16 : batchSize;
    Rules.require(batchSize > 0, "reward.batch_size must be > 0, got " + batchSize);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "model";
  }

  @Override
  public Reward create(RewardContext ctx) {
    Path dir = ctx.resolve(path);
    if (!Files.exists(dir) && HubCache.isRepoId(path)) {
      try {
        dir = HubCache.snapshot(HubCache.RepoType.MODEL, path, null);
      } catch (IOException e) {
        throw new IllegalArgumentException(
            "reward.path: no such directory " + dir + ", and " + e.getMessage());
      }
    }
    if (!Files.isRegularFile(dir.resolve("config.json"))) {
      throw new IllegalArgumentException(
          "reward.path: " + dir + " is not a model directory (no config.json)");
    }
    try {
      if (ModelFiles.headOf(dir) != Head.SCORE) {
        throw new IllegalArgumentException(
            "reward.path: "
                + dir
                + " is a causal LM, not a reward model (its"
                + " config.json names no *ForSequenceClassification); train one with loss: reward_model");
      }
      CausalLM model = ModelFiles.load(dir, ctx.deviceOrCpu());
      return new ModelScorer(model, batchSize, dir.toString());
    } catch (IOException e) {
      throw new UncheckedIOException("reward.path: cannot load " + dir + ": " + e.getMessage(), e);
    }
  }
}
