package ai.tilt.cli;

import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code tilt serve} as a child JVM on a copy of a model, for benchmarks that compare sampling on a
 * server with sampling in-process. Loopback, a free port; stopped on close.
 */
final class ServedModel implements AutoCloseable {
  private static final Pattern LISTENING =
      Pattern.compile("listening on (http://127\\.0\\.0\\.1:\\d+)");
  private final Process process;
  private final Path dir;
  private final String url;

  private ServedModel(Process process, Path dir, String url) {
    this.process = process;
    this.dir = dir;
    this.url = url;
  }

  static ServedModel start(CausalLM model) throws IOException, InterruptedException {
    Path dir = Files.createTempDirectory("tilt-served");
    ModelFiles.save(model, dir.resolve("model"), "F32", Long.MAX_VALUE);
    Path log = dir.resolve("serve.log");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb =
        new ProcessBuilder(
            java,
            "-Dai.djl.offline=true",
            "-cp",
            System.getProperty("java.class.path"),
            "ai.tilt.cli.Main",
            "serve",
            dir.resolve("model").toString(),
            "--port",
            "0",
            "--served-model-name",
            "bench");
    pb.redirectErrorStream(true);
    pb.redirectOutput(log.toFile());
    Process p = pb.start();
    long deadline = System.currentTimeMillis() + 120_000;
    while (System.currentTimeMillis() < deadline && p.isAlive()) {
      Matcher m = LISTENING.matcher(Files.readString(log));
      if (m.find()) {
        return new ServedModel(p, dir, m.group(1));
      }
      Thread.sleep(100);
    }
    p.destroyForcibly();
    throw new IllegalStateException("tilt serve did not start: " + Files.readString(log));
  }

  String url() {
    return url;
  }

  @Override
  public void close() throws IOException, InterruptedException {
    process.destroy();
    process.waitFor(30, TimeUnit.SECONDS);
    try (var s = Files.walk(dir)) {
      for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(q);
      }
    }
  }
}
