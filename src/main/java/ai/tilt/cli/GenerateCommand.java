package ai.tilt.cli;

import ai.tilt.data.Jsonl;
import ai.tilt.model.CausalLM;
import ai.tilt.model.Precision;
import ai.tilt.sampling.Generator;
import ai.tilt.sampling.SamplingParams;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tilt generate}: batched sampling from a model. */
@Command(
    name = "generate",
    mixinStandardHelpOptions = true,
    description = {
      "Samples completions. Input lines hold 'prompt' (text), 'messages' (chat, rendered with the"
          + " template and a generation prompt) or 'prompt_ids'; output lines copy the input and add"
          + " completion, completion_ids, logprobs and finish_reason (eos or length)."
    })
public final class GenerateCommand implements Callable<Integer> {
  @Option(
      names = "--dtype",
      defaultValue = "fp32",
      description =
          "fp32, bf16-mixed (bf16 matmuls) or bf16 (weights held in bf16: half the memory) (default: ${DEFAULT-VALUE})")
  String dtype;

  @Mixin ModelOptions model;

  @ArgGroup(exclusive = true, multiplicity = "1")
  Source source;

  static final class Source {
    @Option(names = "--prompt", description = "one text prompt")
    String prompt;

    @Option(names = "--input", description = "JSONL prompts")
    Path input;
  }

  @Option(names = "--output", description = "JSONL output (default: completions printed to stdout)")
  Path output;

  @Option(
      names = "--num-samples",
      defaultValue = "1",
      description = "completions per prompt (default: ${DEFAULT-VALUE})")
  int numSamples;

  @Mixin SamplingOptions sampling;

  @Option(names = "--greedy", description = "argmax decoding")
  boolean greedy;

  @Option(names = "--ignore-eos", description = "generate max-new-tokens even after EOS")
  boolean ignoreEos;

  @Option(
      names = "--batch-size",
      defaultValue = "16",
      description = "sequences sampled together (default: ${DEFAULT-VALUE})")
  int batchSize;

  @Override
  public Integer call() throws Exception {
    SamplingParams params = sampling.params(greedy, ignoreEos);
    try (CausalLM lm = model.load(Precision.of(dtype))) {
      TextTokenizer tokenizer = model.tokenizer();
      ModelInputs inputs = new ModelInputs(lm, tokenizer);
      List<ObjectNode> records = new ArrayList<>();
      List<long[]> prompts = new ArrayList<>();
      if (source.prompt != null) {
        if (tokenizer == null) {
          throw new IllegalArgumentException(
              model + " has no tokenizer.json: use --input with prompt_ids");
        }
        ObjectNode rec = Jsonl.mapper().createObjectNode().put("prompt", source.prompt);
        records.add(rec);
        prompts.add(inputs.prompt(new Jsonl.Line(Path.of("--prompt"), 1, rec)));
      } else {
        for (Jsonl.Line line : Jsonl.read(source.input)) {
          records.add((ObjectNode) line.json());
          prompts.add(inputs.prompt(line));
        }
      }
      long[] eos =
          tokenizer != null && tokenizer.eosIds().length > 0
              ? tokenizer.eosIds()
              : lm.config().eosTokenIds();
      Generator generator = new Generator(lm, eos);
      // Row k of the expanded list is sample (k % n) of prompt (k / n); batches keep that order.
      List<long[]> rows = new ArrayList<>();
      for (long[] p : prompts) {
        for (int s = 0; s < numSamples; s++) {
          rows.add(p);
        }
      }
      List<Generator.Generation> results = new ArrayList<>();
      for (int start = 0; start < rows.size(); start += batchSize) {
        List<long[]> batch = rows.subList(start, Math.min(rows.size(), start + batchSize));
        results.addAll(generator.generate(batch, params, true, start));
        if (rows.size() > batchSize) {
          System.err.printf(
              "tilt generate: %d/%d%n", Math.min(rows.size(), start + batchSize), rows.size());
        }
      }
      write(records, results, inputs);
    }
    return 0;
  }

  private void write(
      List<ObjectNode> records, List<Generator.Generation> results, ModelInputs inputs)
      throws Exception {
    List<ObjectNode> out = new ArrayList<>();
    for (int k = 0; k < results.size(); k++) {
      Generator.Generation g = results.get(k);
      ObjectNode rec = records.get(k / numSamples).deepCopy();
      if (numSamples > 1) {
        rec.put("sample", k % numSamples);
      }
      String text = inputs.decode(g.completionIds());
      if (text != null) {
        rec.put("completion", text);
      }
      ArrayNode ids = rec.putArray("completion_ids");
      for (long id : g.completionIds()) {
        ids.add(id);
      }
      ArrayNode lp = rec.putArray("logprobs");
      for (float f : g.logprobs()) {
        lp.add(f);
      }
      rec.put("finish_reason", g.finishReason().label());
      out.add(rec);
    }
    if (output == null) {
      for (ObjectNode rec : out) {
        System.out.println(
            rec.has("completion")
                ? rec.get("completion").asText()
                : rec.get("completion_ids").toString());
      }
      return;
    }
    Path tmp = output.resolveSibling(output.getFileName() + ".tmp");
    try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
      for (ObjectNode rec : out) {
        w.write(Jsonl.mapper().writeValueAsString(rec));
        w.newLine();
      }
    }
    Files.move(tmp, output, StandardCopyOption.REPLACE_EXISTING);
    System.err.println("tilt generate: " + out.size() + " completions -> " + output);
  }
}
