package ai.tilt.cli;

import ai.tilt.data.PromptSet;
import ai.tilt.data.SampledPairs;
import ai.tilt.data.SynthData;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Precision;
import ai.tilt.reward.Reward;
import ai.tilt.reward.RewardContext;
import ai.tilt.reward.RewardInput;
import ai.tilt.reward.RewardSpec;
import ai.tilt.runtime.Devices;
import ai.tilt.sampling.Generator;
import ai.tilt.sampling.SamplingParams;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code tilt data pairs}: a preference dataset from a model's own samples, labelled by a reward,
 * as the paper's synthetic datasets were made (two samples of the SFT policy per prompt, relabelled
 * by the gold reward; Tajwar et al., 2024, section 5). See {@link SampledPairs} for the pairing and
 * the Skew Length truncation.
 */
@Command(
    name = "pairs",
    mixinStandardHelpOptions = true,
    description = {
      "Samples completions of each prompt from a model, scores them with a reward and writes the best against"
          + " the worst as a preference pair: {\"prompt\", \"chosen\", \"rejected\", \"score_chosen\","
          + " \"score_rejected\", \"response_ids\": [chosen ids, rejected ids], \"response_rewards\"} (the ids end with EOS when the"
          + " completion did; offline runs of the on-policy loop train on them and their labels). Prompts whose samples tie are dropped and"
          + " counted. Ends with one JSON line of counts and length statistics."
    })
public final class PairsCommand implements Callable<Integer> {
  @Mixin ModelOptions model;

  @Option(names = "--prompts", required = true, description = "JSONL prompts (prompt or messages)")
  Path prompts;

  @Option(
      names = "--reward",
      required = true,
      description =
          "the labelling reward, as in a recipe: a name (min_length) or YAML ('{type: mode_length, target: 6}')")
  String reward;

  @Option(names = "--out", required = true, paramLabel = "FILE.jsonl")
  Path out;

  @Option(
      names = "--samples",
      defaultValue = "2",
      description = "completions per prompt (default: ${DEFAULT-VALUE})")
  int samples;

  @Mixin SamplingOptions sampling;

  @Option(
      names = "--min-gap",
      defaultValue = "0",
      description = "keep a pair only when its reward gap exceeds this (default: ${DEFAULT-VALUE})")
  double minGap;

  @Option(
      names = "--truncate-words",
      paramLabel = "MEAN",
      description =
          "Skew Length data: cut each completion after 1 + Exponential(MEAN) words before scoring")
  Double truncateWords;

  @Option(
      names = "--truncate-keep",
      defaultValue = "first",
      description =
          "which words --truncate-words keeps: first (a prefix, which the reference may write"
              + " itself) or last (a suffix, off the reference's support); default: ${DEFAULT-VALUE}")
  String truncateKeep;

  @Option(
      names = "--limit",
      paramLabel = "N",
      description = "use only the first N prompts of the file (default: all)")
  Integer limit;

  @Option(
      names = "--batch-size",
      defaultValue = "64",
      description = "sequences sampled together (default: ${DEFAULT-VALUE})")
  int batchSize;

  @Override
  public Integer call() throws Exception {
    if (samples < 2) {
      throw new IllegalArgumentException("--samples must be at least 2");
    }
    if (limit != null && limit < 1) {
      throw new IllegalArgumentException("--limit must be >= 1, got " + limit);
    }
    if (!truncateKeep.equals("first") && !truncateKeep.equals("last")) {
      throw new IllegalArgumentException(
          "--truncate-keep is first or last, not '" + truncateKeep + "'");
    }
    SamplingParams params = sampling.params(false, false); // flags checked before any loading
    RewardSpec spec = EvalCommand.rewardOption(reward, "--reward");
    PrintStream err = System.err;
    try (CausalLM lm = model.load(Precision.FP32);
        TextTokenizer tok = model.tokenizer();
        Reward scorer = spec.create(new RewardContext(tok, Path.of("."), Devices.current()))) {
      List<PromptSet.Prompt> ps =
          PromptSet.load(prompts, tok, lm.config().vocabSize(), false, true);
      if (tok == null) {
        throw new IllegalArgumentException("--model " + model.model + " has no tokenizer files");
      }
      if (limit != null && limit < ps.size()) {
        ps = ps.subList(0, limit);
      }
      long[] eos = tok.eosIds().length > 0 ? tok.eosIds() : lm.config().eosTokenIds();
      Generator gen = new Generator(lm, eos);
      SplittableRandom cut = new SplittableRandom(sampling.seed ^ 0x5DEECE66DL);
      ObjectMapper json = new ObjectMapper();
      List<String> lines = new ArrayList<>();
      int ties = 0;
      double[] lengthSum = new double[2];
      Map<Integer, Integer> wordHistogram = new TreeMap<>();
      int perBatch = Math.max(1, batchSize / samples);
      for (int from = 0; from < ps.size(); from += perBatch) {
        List<PromptSet.Prompt> chunk = ps.subList(from, Math.min(ps.size(), from + perBatch));
        List<long[]> inputs = new ArrayList<>();
        for (PromptSet.Prompt p : chunk) {
          for (int k = 0; k < samples; k++) {
            inputs.add(p.ids());
          }
        }
        // firstRow keeps every row's random stream a function of its global index: batch size does
        // not matter
        List<Generator.Generation> gens = gen.generate(inputs, params, true, (long) from * samples);
        for (int g = 0; g < chunk.size(); g++) {
          PromptSet.Prompt p = chunk.get(g);
          String[] texts = new String[samples];
          long[][] ids = new long[samples][];
          List<RewardInput> in = new ArrayList<>();
          for (int k = 0; k < samples; k++) {
            Generator.Generation one = gens.get(g * samples + k);
            boolean finished = one.finishReason() == Generator.FinishReason.EOS;
            texts[k] = tok.decode(one.completionIds(), true);
            ids[k] = one.completionIds();
            if (truncateWords != null) {
              String cutText =
                  SampledPairs.truncateWords(
                      texts[k], truncateWords, cut, truncateKeep.equals("last"));
              if (!cutText.equals(texts[k])) {
                texts[k] = cutText;
                finished = true; // a truncated answer ends where it was cut
                long[] body = tok.encode(cutText, false);
                ids[k] = eos.length == 0 ? body : Arrays.copyOf(body, body.length + 1);
                if (eos.length > 0) {
                  ids[k][body.length] = eos[0];
                }
              }
            }
            int words = texts[k].isBlank() ? 0 : texts[k].trim().split("\\s+").length;
            wordHistogram.merge(words, 1, Integer::sum);
            lengthSum[0] += words;
            lengthSum[1] += 1;
            in.add(new RewardInput(p.record(), p.text(), p.ids(), texts[k], ids[k], finished));
          }
          double[] r = scorer.score(in);
          int[] pair = SampledPairs.bestVsWorst(texts, r, minGap);
          if (pair == null) {
            ties++;
            continue;
          }
          ObjectNode line = p.record().deepCopy();
          line.remove(
              List.of(
                  "completion",
                  "chosen",
                  "rejected",
                  "responses",
                  "rewards",
                  "label",
                  "response_ids"));
          line.put("chosen", texts[pair[0]]).put("rejected", texts[pair[1]]);
          line.put("score_chosen", r[pair[0]]).put("score_rejected", r[pair[1]]);
          ArrayNode rs = line.putArray("response_ids");
          for (int k : pair) {
            ArrayNode a = rs.addArray();
            for (long id : ids[k]) {
              a.add(id);
            }
          }
          line.putArray("response_rewards").add(r[pair[0]]).add(r[pair[1]]);
          lines.add(json.writeValueAsString(line));
        }
        int done = Math.min(ps.size(), from + perBatch);
        if (done * 10 / ps.size() > from * 10 / ps.size()) {
          err.printf("pairs: %d/%d prompts sampled%n", done, ps.size());
        }
      }
      if (lines.isEmpty()) {
        throw new IllegalStateException(
            "every prompt's samples tied under the reward: no pairs to write to " + out);
      }
      SynthData.writeLines(out, lines);
      int mode =
          wordHistogram.entrySet().stream()
              .max(Map.Entry.comparingByValue())
              .orElseThrow()
              .getKey();
      Map<String, Object> summary = new LinkedHashMap<>();
      summary.put("pairs", lines.size());
      summary.put("prompts", ps.size());
      summary.put("ties_dropped", ties);
      summary.put("mean_words", lengthSum[0] / lengthSum[1]);
      summary.put("mode_words", mode);
      summary.put("word_histogram", wordHistogram);
      summary.put("out", out.toString());
      err.printf(
          "wrote %d pairs to %s (%d prompts tied and were dropped)%n", lines.size(), out, ties);
      System.out.println(json.writeValueAsString(summary));
    }
    return 0;
  }
}
