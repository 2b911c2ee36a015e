package ai.tilt.cli.bench;

import ai.tilt.bench.GenerateBench;
import ai.tilt.bench.PrecisionBench;
import ai.tilt.model.CausalLM;
import ai.tilt.runtime.ChildJvm;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tilt bench attention}: fused against unfused attention, in seconds and RSS growth. */
@Command(
    name = "attention",
    mixinStandardHelpOptions = true,
    description =
        "Forward + backward with fused (scaled_dot_product_attention) against unfused attention at a long"
            + " sequence: seconds and resident-memory growth, measured in one run.")
final class AttentionBenchCommand implements Callable<Integer> {
  @Mixin ModelChoice choice;

  @Option(names = "--batch-size", defaultValue = "2")
  int batch;

  @Option(names = "--seq-len", defaultValue = "1024")
  int seqLen;

  @Option(names = "--steps", defaultValue = "2")
  int steps;

  @Option(names = "--child", hidden = true)
  String child;

  @Override
  public Integer call() throws Exception {
    if (child != null) {
      try (CausalLM m = choice.load()) {
        BenchOutput.print(PrecisionBench.attention(m, child.equals("fused"), batch, seqLen, steps));
      }
      return 0;
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("bench", "attention");
    out.put("model", choice.label());
    out.put("batch", batch);
    out.put("seq_len", seqLen);
    for (String mode : new String[] {"unfused", "fused"}) {
      // each in a fresh JVM, so neither inherits the other's memory
      List<String> args =
          new ArrayList<>(
              List.of(
                  "bench",
                  "attention",
                  "--child",
                  mode,
                  "--batch-size",
                  Integer.toString(batch),
                  "--seq-len",
                  Integer.toString(seqLen),
                  "--steps",
                  Integer.toString(steps),
                  "--preset",
                  choice.preset,
                  "--arch",
                  choice.arch,
                  "--vocab-size",
                  Integer.toString(choice.vocab)));
      if (choice.model != null) {
        args.addAll(List.of("--model", choice.model.toString()));
      }
      ProcessBuilder pb = ChildJvm.builder(List.of(), args);
      pb.redirectError(ProcessBuilder.Redirect.DISCARD);
      Process proc = pb.start();
      String[] lines = new String(proc.getInputStream().readAllBytes()).trim().split("\n");
      proc.waitFor();
      out.put(mode, new ObjectMapper().readTree(lines[lines.length - 1]));
    }
    JsonNode a = (JsonNode) out.get("unfused");
    JsonNode b = (JsonNode) out.get("fused");
    out.put(
        "fused_speedup",
        GenerateBench.round(a.get("step_s").asDouble() / b.get("step_s").asDouble()));
    out.put(
        "fused_memory_ratio",
        GenerateBench.round(b.get("rss_growth_mb").asDouble() / a.get("rss_growth_mb").asDouble()));
    BenchOutput.print(out);
    return 0;
  }
}
