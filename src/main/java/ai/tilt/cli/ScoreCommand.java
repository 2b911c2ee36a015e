package ai.tilt.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.data.Jsonl;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Head;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import ai.tilt.runtime.Devices;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tilt score}: rewards of completions under a reward model. */
@Command(
    name = "score",
    mixinStandardHelpOptions = true,
    description = {
      "Scores completions with a reward model (a *ForSequenceClassification directory with one label, e.g. one"
          + " trained with loss: reward_model). Input lines hold prompt + completion (text), messages (a whole"
          + " conversation ending with the response), or prompt_ids + completion_ids; output lines copy the input"
          + " and add 'reward'."
    })
public final class ScoreCommand implements Callable<Integer> {
  @Option(
      names = "--dtype",
      defaultValue = "fp32",
      description =
          "fp32, bf16-mixed (bf16 matmuls) or bf16 (weights held in bf16: half the memory) (default: ${DEFAULT-VALUE})")
  String dtype;

  @Option(
      names = "--model",
      required = true,
      converter = HubModelPath.class,
      description = "reward model directory, or a hub name in the HuggingFace cache")
  Path model;

  @Option(names = "--input", required = true)
  Path input;

  @Option(names = "--output", required = true)
  Path output;

  @Option(names = "--batch-size", defaultValue = "16", description = "(default: ${DEFAULT-VALUE})")
  int batchSize;

  @Option(
      names = "--no-eos",
      description = "do not append EOS after text completions (training appends it by default)")
  boolean noEos;

  @Override
  public Integer call() throws Exception {
    if (ModelFiles.headOf(model) != Head.SCORE) {
      throw new IllegalArgumentException(
          model
              + " is a causal LM, not a reward model (its config.json names no"
              + " *ForSequenceClassification); train one with loss: reward_model");
    }
    List<Jsonl.Line> lines = Jsonl.read(input);
    try (CausalLM rm = ModelFiles.load(model, Devices.current(), Precision.of(dtype));
        TextTokenizer tok = TextTokenizer.loadIfPresent(model)) {
      List<long[]> seqs = new ArrayList<>();
      for (Jsonl.Line line : lines) {
        seqs.add(sequence(line, tok, rm.config().vocabSize()));
      }
      float[] rewards = new float[seqs.size()];
      for (int start = 0; start < seqs.size(); start += batchSize) {
        List<long[]> batch = seqs.subList(start, Math.min(seqs.size(), start + batchSize));
        System.arraycopy(score(rm, batch), 0, rewards, start, batch.size());
      }
      Path tmp = output.resolveSibling(output.getFileName() + ".tmp");
      try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
        for (int i = 0; i < lines.size(); i++) {
          ObjectNode rec = ((ObjectNode) lines.get(i).json()).deepCopy();
          rec.put("reward", rewards[i]);
          w.write(Jsonl.mapper().writeValueAsString(rec));
          w.newLine();
        }
      }
      Files.move(tmp, output, StandardCopyOption.REPLACE_EXISTING);
    }
    System.err.println("tilt score: " + lines.size() + " rewards -> " + output);
    return 0;
  }

  private long[] sequence(Jsonl.Line line, TextTokenizer tok, int vocab) {
    long[] ids;
    if (line.has("prompt_ids")) {
      long[] p = line.ids("prompt_ids");
      long[] c = line.ids("completion_ids");
      ids = concat(p, c);
    } else {
      if (tok == null) {
        throw line.error("text fields need a tokenizer, but " + model + " has no tokenizer.json");
      }
      if (line.has("messages")) {
        List<Map<String, Object>> msgs =
            Jsonl.mapper()
                .convertValue(
                    line.json().get("messages"), new TypeReference<List<Map<String, Object>>>() {});
        ids = tok.encodeChat(msgs, false, Map.of());
      } else {
        long[] p = tok.encodePrompt(line.text("prompt"));
        long[] c = tok.encode(line.text("completion"), false);
        long lastId = c.length == 0 ? -1 : c[c.length - 1];
        if (!noEos
            && tok.eosIds().length > 0
            && Arrays.stream(tok.eosIds()).noneMatch(e -> e == lastId)) {
          c = concat(c, new long[] {tok.eosIds()[0]}); // as training appends it: once
        }
        ids = concat(p, c);
      }
    }
    if (ids.length == 0) {
      throw line.error("nothing to score");
    }
    for (long id : ids) {
      if (id >= vocab) {
        throw line.error("token id " + id + " is outside the vocabulary of " + vocab);
      }
    }
    return ids;
  }

  static float[] score(CausalLM rm, List<long[]> seqs) {
    int t = seqs.stream().mapToInt(s -> s.length).max().orElse(1);
    int b = seqs.size();
    long[] ids = new long[b * t];
    long[] mask = new long[b * t];
    for (int r = 0; r < b; r++) {
      System.arraycopy(seqs.get(r), 0, ids, r * t, seqs.get(r).length);
      Arrays.fill(mask, r * t, r * t + seqs.get(r).length, 1L);
    }
    try (NDManager m = rm.manager().newSubManager()) {
      return rm.scores(m.create(ids, new Shape(b, t)), m.create(mask, new Shape(b, t)))
          .toFloatArray();
    }
  }

  private static long[] concat(long[] a, long[] b) {
    long[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
