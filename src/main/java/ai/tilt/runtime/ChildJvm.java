package ai.tilt.runtime;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * This Tilt in a fresh JVM: the current process's java binary and class path, DJL offline, the
 * caller's JVM flags, then {@code ai.tilt.cli.Main} with its arguments. For the bench verbs that
 * measure in a clean process, the served model of the online bench, and the lab's jobs.
 */
public final class ChildJvm {
  /** Tilt's entry point, named by string: this package depends on no other Tilt package. */
  public static final String MAIN_CLASS = "ai.tilt.cli.Main";

  private ChildJvm() {}

  /**
   * {@code java -Dai.djl.offline=true JVM_FLAGS -cp CLASS_PATH ai.tilt.cli.Main ARGS}, with this
   * process's java and class path.
   */
  public static List<String> command(List<String> jvmFlags, List<String> args) {
    List<String> c = new ArrayList<>();
    c.add(javaBinary());
    c.add("-Dai.djl.offline=true");
    c.addAll(jvmFlags);
    c.addAll(List.of("-cp", System.getProperty("java.class.path"), MAIN_CLASS));
    c.addAll(args);
    return c;
  }

  /** A process builder for {@link #command}; redirects and environment are the caller's. */
  public static ProcessBuilder builder(List<String> jvmFlags, List<String> args) {
    return new ProcessBuilder(command(jvmFlags, args));
  }

  /**
   * The java launcher of the running JVM: {@code java.home}'s {@code bin/java}, or where that is
   * missing (a runtime image without launchers) the binary this process was started from.
   */
  public static String javaBinary() {
    boolean windows = System.getProperty("os.name", "").startsWith("Windows");
    Path java = Path.of(System.getProperty("java.home"), "bin", windows ? "java.exe" : "java");
    if (Files.isExecutable(java)) {
      return java.toString();
    }
    return ProcessHandle.current().info().command().orElse("java");
  }
}
