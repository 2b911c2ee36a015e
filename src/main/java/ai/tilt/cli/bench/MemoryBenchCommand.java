package ai.tilt.cli.bench;

import ai.tilt.bench.GenerateBench;
import ai.tilt.bench.PrecisionBench;
import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Precision;
import ai.tilt.runtime.ChildJvm;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tilt bench memory}: reference memory in bf16 against fp32, each in a child JVM. */
@Command(
    name = "memory",
    mixinStandardHelpOptions = true,
    description =
        "Memory of a frozen reference (load + one scoring pass) held in bf16 against fp32, each in a fresh"
            + " child JVM.")
final class MemoryBenchCommand implements Callable<Integer> {
  @Mixin ModelChoice choice;

  @Option(names = "--batch-size", defaultValue = "1")
  int batch;

  @Option(names = "--seq-len", defaultValue = "64")
  int seqLen;

  @Option(names = "--child", hidden = true)
  String child;

  @Override
  public Integer call() throws Exception {
    if (child != null) {
      BenchOutput.print(
          PrecisionBench.referenceMemory(choice.model, Precision.of(child), batch, seqLen));
      return 0;
    }
    Path dir = Files.createTempDirectory("tilt-bench-memory");
    Path modelDir = choice.model;
    if (modelDir == null) {
      modelDir = dir.resolve("model");
      try (CausalLM m = choice.load()) {
        ModelFiles.save(m, modelDir, "F32", Long.MAX_VALUE);
      }
    }
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("bench", "memory");
    out.put("model", choice.label());
    for (String p : new String[] {"fp32", "bf16"}) {
      ProcessBuilder pb =
          ChildJvm.builder(
              List.of(),
              List.of(
                  "bench",
                  "memory",
                  "--child",
                  p,
                  "--model",
                  modelDir.toString(),
                  "--batch-size",
                  Integer.toString(batch),
                  "--seq-len",
                  Integer.toString(seqLen)));
      pb.redirectError(ProcessBuilder.Redirect.DISCARD);
      // glibc would keep freed conversion buffers in its heap; a fixed mmap threshold returns
      // them
      pb.environment().putIfAbsent("MALLOC_MMAP_THRESHOLD_", "1048576");
      Process proc = pb.start();
      String last = new String(proc.getInputStream().readAllBytes()).trim();
      proc.waitFor();
      String[] lines = last.split("\n");
      out.put(p, new ObjectMapper().readTree(lines[lines.length - 1]));
    }
    JsonNode a = (JsonNode) out.get("fp32");
    JsonNode b = (JsonNode) out.get("bf16");
    out.put(
        "weights_ratio",
        GenerateBench.round(b.get("weights_mb").asDouble() / a.get("weights_mb").asDouble()));
    out.put(
        "tensor_ratio",
        GenerateBench.round(b.get("tensor_mb").asDouble() / a.get("tensor_mb").asDouble()));
    out.put(
        "after_scoring_ratio",
        GenerateBench.round(
            b.get("after_scoring_mb").asDouble() / a.get("after_scoring_mb").asDouble()));
    BenchOutput.print(out);
    return 0;
  }
}
