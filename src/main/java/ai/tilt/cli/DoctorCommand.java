package ai.tilt.cli;

import ai.tilt.dist.C10dGroup;
import ai.tilt.dist.DistException;
import ai.tilt.dist.World;
import ai.tilt.runtime.RuntimeInfo;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code tilt doctor}: what a run can count on here, and the fix for anything missing. */
@Command(
    name = "doctor",
    mixinStandardHelpOptions = true,
    description = {
      "Checks the engine (libtorch version and flavour), devices and GPU memory, threads, bf16, DJL's"
          + " native cache, free disk and memory. Exits 1, naming the fix, when something a run needs is"
          + " missing. Every training run logs the same summary as its first line."
    })
public final class DoctorCommand implements Callable<Integer> {
  @Option(
      names = "--run-dir",
      defaultValue = "checkpoints",
      description =
          "where checkpoints will go (its free disk is checked; default: ${DEFAULT-VALUE})")
  Path runDir;

  @Option(names = "--json", description = "print one JSON line instead of the table")
  boolean json;

  @Override
  public Integer call() throws Exception {
    RuntimeInfo info = RuntimeInfo.probe(runDir);
    PrintStream out = System.out;
    if (json) {
      ObjectMapper mapper = new ObjectMapper();
      ObjectNode node = mapper.valueToTree(info);
      // paths as plain strings, not Jackson's file: URIs
      node.put("cacheDir", info.cacheDir().toString());
      node.put("diskPath", info.diskPath().toString());
      node.put("dist", dist(info));
      out.println(mapper.writeValueAsString(node));
      return info.problems().isEmpty() ? 0 : 1;
    }
    row(out, "tilt", Main.VERSION);
    row(out, "java", info.java() + ", heap max " + RuntimeInfo.bytes(info.maxHeapBytes()));
    row(out, "os", info.os() + ", " + info.cores() + " processors available");
    row(out, "engine", info.engine());
    row(
        out,
        "flavour",
        info.flavour()
            + (info.features().isEmpty() ? "" : ", features " + String.join(" ", info.features())));
    row(out, "libtorch", info.libtorchVersion() + " at " + info.libtorch());
    row(out, "JNI", info.jni());
    row(out, "device", info.device());
    row(
        out,
        "GPUs",
        info.gpus().isEmpty() ? "none visible to libtorch" : String.join("; ", info.gpus()));
    row(
        out,
        "threads",
        info.threads()
            + " intra-op ("
            + info.threadsSource()
            + "), "
            + info.interopThreads()
            + " inter-op, OMP_WAIT_POLICY "
            + info.ompWaitPolicy());
    row(out, "bf16", info.bf16());
    row(out, "dist", dist(info));
    row(out, "DJL cache", info.cacheDir() + " (" + RuntimeInfo.bytes(info.cacheBytes()) + ")");
    row(out, "disk", RuntimeInfo.bytes(info.diskFreeBytes()) + " free under " + info.diskPath());
    row(out, "memory", RuntimeInfo.bytes(info.memAvailableBytes()) + " available");
    for (String w : info.warnings()) {
      out.println("warning: " + w);
    }
    for (String p : info.problems()) {
      out.println("problem: " + p);
    }
    out.println(
        info.problems().isEmpty()
            ? "ok: everything a run needs is here"
            : "not ready: " + info.problems().size() + " problem(s) above");
    return info.problems().isEmpty() ? 0 : 1;
  }

  /**
   * The data-parallel side: which libtilt_dist.so a worker would load (it must come from the same
   * build-jni.sh run as the JNI, against the libtorch that runs), the backend, and this process's
   * place in a job.
   */
  static String dist(RuntimeInfo info) {
    String lib = C10dGroup.libraryPath();
    String library;
    if (lib == null || lib.isBlank()) {
      library =
          "no libtilt_dist.so (data-parallel runs need it: scripts/build-jni.sh builds it beside"
              + " the JNI, then source its env.sh)";
    } else if (!Files.isRegularFile(Path.of(lib))) {
      library = "TILT_DIST_LIBRARY names " + lib + ", which does not exist";
    } else {
      library = "libtilt_dist.so at " + lib;
    }
    String backend = info.device().startsWith("cuda") ? "nccl" : "gloo";
    World world;
    try {
      world = World.fromEnvironment();
    } catch (DistException e) {
      return library + "; " + backend + "; launch variables are inconsistent: " + e.getMessage();
    }
    return library + "; " + backend + " on " + info.device() + "; " + world.describe();
  }

  private static void row(PrintStream out, String name, String value) {
    out.printf("  %-10s %s%n", name, value);
  }
}
