package ai.tilt.bench;

import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelFiles;
import ai.tilt.runtime.ChildJvm;
import ai.tilt.runtime.FileTrees;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code tilt serve} as a child JVM on this machine's loopback, on a free port: for benchmarks and
 * tests that compare sampling on a server with sampling in-process. Stopped on close.
 */
public final class ServedModel implements AutoCloseable {
  private static final Pattern LISTENING =
      Pattern.compile("listening on (http://127\\.0\\.0\\.1:\\d+)");
  private final Process process;
  private final Path scratch; // deleted on close: the copy of the model and the log
  private final String url;
  private final boolean ownsScratch;

  private ServedModel(Process process, Path scratch, boolean ownsScratch, String url) {
    this.process = process;
    this.scratch = scratch;
    this.ownsScratch = ownsScratch;
    this.url = url;
  }

  /** Serves a copy of {@code model} as "bench". */
  public static ServedModel start(CausalLM model) throws IOException, InterruptedException {
    Path dir = Files.createTempDirectory("tilt-served");
    ModelFiles.save(model, dir.resolve("model"), "F32", Long.MAX_VALUE);
    return start(dir.resolve("model"), "bench", List.of(), dir, true);
  }

  /**
   * Serves {@code modelDir} as {@code name}; {@code jvmFlags} go to the child JVM (e.g.
   * -Dtilt.threads=1); its log is written to a temporary file in {@code logDir}.
   */
  public static ServedModel start(Path modelDir, String name, List<String> jvmFlags, Path logDir)
      throws IOException, InterruptedException {
    return start(modelDir, name, jvmFlags, logDir, false);
  }

  private static ServedModel start(
      Path modelDir, String name, List<String> jvmFlags, Path scratch, boolean owns)
      throws IOException, InterruptedException {
    Path log = Files.createTempFile(scratch, "serve", ".log");
    ProcessBuilder pb =
        ChildJvm.builder(
            jvmFlags,
            List.of("serve", modelDir.toString(), "--port", "0", "--served-model-name", name));
    pb.redirectErrorStream(true);
    pb.redirectOutput(log.toFile());
    Process p = pb.start();
    long deadline = System.currentTimeMillis() + 120_000;
    while (System.currentTimeMillis() < deadline && p.isAlive()) {
      Matcher m = LISTENING.matcher(Files.readString(log));
      if (m.find()) {
        return new ServedModel(p, scratch, owns, m.group(1));
      }
      Thread.sleep(100);
    }
    p.destroyForcibly();
    throw new IllegalStateException("tilt serve did not start: " + Files.readString(log));
  }

  public String url() {
    return url;
  }

  @Override
  public void close() throws IOException, InterruptedException {
    process.destroy();
    process.waitFor(30, TimeUnit.SECONDS);
    if (ownsScratch) {
      FileTrees.deleteTree(scratch);
    }
  }
}
