package ai.tilt.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.data.Jsonl;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Precision;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tilt logprobs}: per-token log-probs of given completions under a model. */
@Command(
    name = "logprobs",
    mixinStandardHelpOptions = true,
    description = {
      "Scores completions: for each input line, log p(completion token | prompt, earlier tokens).",
      "Input lines hold prompt + completion (text; prompt may be chat 'messages') or prompt_ids +"
          + " completion_ids. Output lines copy 'id' and add completion_ids, logprobs and sum."
    })
public final class LogprobsCommand implements Callable<Integer> {
  @Option(
      names = "--dtype",
      defaultValue = "fp32",
      description =
          "fp32, bf16-mixed (bf16 matmuls) or bf16 (weights held in bf16: half the memory) (default: ${DEFAULT-VALUE})")
  String dtype;

  @Mixin ModelOptions model;

  @Option(names = "--input", required = true, description = "JSONL input")
  Path input;

  @Option(names = "--output", required = true, description = "JSONL output")
  Path output;

  @Option(
      names = "--batch-size",
      defaultValue = "8",
      description = "sequences per forward pass (default: ${DEFAULT-VALUE})")
  int batchSize;

  @Override
  public Integer call() throws Exception {
    List<Jsonl.Line> lines = Jsonl.read(input);
    try (CausalLM lm = model.load(Precision.of(dtype))) {
      ModelInputs inputs = new ModelInputs(lm, model.tokenizer());
      List<long[]> prompts = new ArrayList<>();
      List<long[]> completions = new ArrayList<>();
      for (Jsonl.Line line : lines) {
        prompts.add(inputs.prompt(line));
        completions.add(inputs.completion(line));
      }
      Path tmp = output.resolveSibling(output.getFileName() + ".tmp");
      try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
        for (int start = 0; start < lines.size(); start += batchSize) {
          int end = Math.min(lines.size(), start + batchSize);
          float[][] logps = score(lm, prompts.subList(start, end), completions.subList(start, end));
          for (int i = start; i < end; i++) {
            ObjectNode out = Jsonl.mapper().createObjectNode();
            if (lines.get(i).has("id")) {
              out.set("id", lines.get(i).json().get("id"));
            }
            ArrayNode ids = out.putArray("completion_ids");
            for (long id : completions.get(i)) {
              ids.add(id);
            }
            ArrayNode lp = out.putArray("logprobs");
            double sum = 0;
            for (float f : logps[i - start]) {
              lp.add(f);
              sum += f;
            }
            out.put("sum", sum);
            w.write(Jsonl.mapper().writeValueAsString(out));
            w.newLine();
          }
        }
      }
      Files.move(tmp, output, StandardCopyOption.REPLACE_EXISTING);
    }
    System.err.println("tilt logprobs: scored " + lines.size() + " completions -> " + output);
    return 0;
  }

  /**
   * One right-padded forward pass over prompt + completion rows; returns each completion's
   * log-probs.
   */
  static float[][] score(CausalLM lm, List<long[]> prompts, List<long[]> completions) {
    int b = prompts.size();
    int t = 0;
    for (int r = 0; r < b; r++) {
      t = Math.max(t, prompts.get(r).length + completions.get(r).length);
    }
    long[] ids = new long[b * t];
    long[] mask = new long[b * t];
    for (int r = 0; r < b; r++) {
      long[] p = prompts.get(r);
      long[] c = completions.get(r);
      System.arraycopy(p, 0, ids, r * t, p.length);
      System.arraycopy(c, 0, ids, r * t + p.length, c.length);
      Arrays.fill(mask, r * t, r * t + p.length + c.length, 1L);
    }
    int from = Integer.MAX_VALUE;
    for (long[] p : prompts) {
      from = Math.min(from, p.length);
    }
    float[][] out = new float[b][];
    try (NDManager m = lm.manager().newSubManager()) {
      NDArray logp =
          lm.tokenLogprobs(m.create(ids, new Shape(b, t)), m.create(mask, new Shape(b, t)), from);
      float[] flat = logp.toFloatArray(); // (B, T - from)
      int width = t - from;
      for (int r = 0; r < b; r++) {
        int p = prompts.get(r).length;
        out[r] = new float[completions.get(r).length];
        for (int j = 0; j < out[r].length; j++) {
          out[r][j] = flat[r * width + (p + j - from)];
        }
      }
    }
    return out;
  }
}
