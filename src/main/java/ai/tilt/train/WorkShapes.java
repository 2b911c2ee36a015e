package ai.tilt.train;

import ai.tilt.data.DataOptions;
import ai.tilt.data.PreferenceDataset;
import ai.tilt.data.PromptSet;
import ai.tilt.data.ResponseGroup;
import ai.tilt.data.SftDataset;
import ai.tilt.data.SftExample;
import ai.tilt.loss.GroupLoss;
import ai.tilt.loss.Loss;
import ai.tilt.loss.PolicyGradientLoss;
import ai.tilt.loss.RewardModelLoss;
import ai.tilt.loss.Sft;
import ai.tilt.model.ModelConfig;
import ai.tilt.tokenizer.TextTokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * The largest micro-batch a recipe's data makes, as the model will run it ({@link
 * MemoryEstimate.Work}): read from the data files with the tokenizer alone, so a run's memory is
 * known before its weights are loaded.
 */
public final class WorkShapes {
  private WorkShapes() {}

  static MemoryEstimate.Work of(Recipe r, TextTokenizer tok, ModelConfig c) throws IOException {
    Recipe.Data d = r.data();
    int micro = r.train().microBatchSize();
    if (r.online() != null) {
      return rollout(r, PromptSet.load(d.trainSet(), tok, c.vocabSize(), false, d.appendEos()), c);
    }
    DataOptions options =
        new DataOptions(d.maxLength(), d.maxPromptLength(), d.skipInvalid(), d.appendEos());
    try {
      return r.loss()
          .match(
              new Loss.Cases<MemoryEstimate.Work>() {
                @Override
                public MemoryEstimate.Work sft(Sft loss) {
                  long longest = 1;
                  for (SftExample e :
                      load(() -> SftDataset.load(d.trainSet(), tok, options).examples())) {
                    longest = Math.max(longest, e.ids().length);
                  }
                  return new MemoryEstimate.Work(
                      micro * longest, micro, longest, micro * longest, 0);
                }

                @Override
                public MemoryEstimate.Work groups(GroupLoss loss) {
                  return packedGroups(groups(), micro);
                }

                @Override
                public MemoryEstimate.Work rewardModel(RewardModelLoss loss) {
                  long longest = 1;
                  for (ResponseGroup g : groups()) {
                    for (long[] resp : g.responses()) {
                      longest = Math.max(longest, g.prompt().length + resp.length);
                    }
                  }
                  return new MemoryEstimate.Work(2L * micro * longest, 2L * micro, longest, 0, 0);
                }

                @Override
                public MemoryEstimate.Work policyGradient(PolicyGradientLoss loss) {
                  throw new IllegalStateException(
                      loss.type() + " without online: Recipe.validate refuses this");
                }

                private List<ResponseGroup> groups() {
                  return load(() -> PreferenceDataset.load(d.trainSet(), tok, options).groups());
                }
              });
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /** Groups packed after one copy of their prompt (PackedRows), micro at a time. */
  public static MemoryEstimate.Work packedGroups(List<ResponseGroup> groups, int micro) {
    long longest = 1;
    long head = 1;
    for (ResponseGroup g : groups) {
      long responses = 0;
      for (long[] resp : g.responses()) {
        responses += resp.length;
      }
      longest = Math.max(longest, g.prompt().length + responses);
      head = Math.max(head, responses);
    }
    return new MemoryEstimate.Work(micro * longest, micro, longest, micro * head, 0);
  }

  /** An iteration's collection and update: its micro-batches of prompts and their samples. */
  static MemoryEstimate.Work rollout(Recipe r, List<PromptSet.Prompt> prompts, ModelConfig c) {
    Online cfg = r.online();
    long prompt = 1;
    for (PromptSet.Prompt p : prompts) {
      prompt = Math.max(prompt, p.ids().length);
    }
    long gen = cfg.maxNewTokens();
    long micro = r.train().microBatchSize();
    long samples = cfg.samplesPerPrompt();
    // sampling all B x C rows at once: keys and values of every layer, and the last logits
    long sequences = (long) cfg.promptsPerIteration() * samples;
    long kv = (long) c.numLayers() * 2 * c.numKvHeads() * c.headDim() * 4;
    long generation = sequences * (prompt + gen) * kv + sequences * c.vocabSize() * 4 * 3;
    if (!r.loss().scoresGroups()) {
      long rows = micro * samples;
      return new MemoryEstimate.Work(
          rows * (prompt + gen), rows, prompt + gen, rows * gen, generation);
    }
    long perPrompt =
        switch (cfg.pairs()) {
          case ALL -> samples * (samples - 1) / 2;
          default -> 1;
        };
    long groups = micro * perPrompt;
    long responses = 2 * gen;
    return new MemoryEstimate.Work(
        groups * (prompt + responses), groups, prompt + responses, groups * responses, generation);
  }

  interface Loader<T> {
    T get() throws IOException;
  }

  private static <T> T load(Loader<T> l) {
    try {
      return l.get();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
