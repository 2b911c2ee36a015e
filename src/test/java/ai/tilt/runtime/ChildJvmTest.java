package ai.tilt.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.cli.Main;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The child JVM's command line, and a child that actually runs. */
class ChildJvmTest {
  @Test
  void commandIsThisJavaOfflineTheFlagsTheClassPathMainThenTheArguments() throws Exception {
    List<String> cmd =
        ChildJvm.command(
            List.of("-Xmx256m", "-Dtilt.threads=1"), List.of("bench", "soak", "--steps", "3"));
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    assertEquals(
        List.of(
            java,
            "-Dai.djl.offline=true",
            "-Xmx256m",
            "-Dtilt.threads=1",
            "-cp",
            System.getProperty("java.class.path"),
            "ai.tilt.cli.Main",
            "bench",
            "soak",
            "--steps",
            "3"),
        cmd);
    // the same binary this JVM runs on, not whichever java is first on the PATH
    Optional<String> self = ProcessHandle.current().info().command();
    if (self.isPresent()) {
      assertTrue(Files.isSameFile(Path.of(self.get()), Path.of(cmd.get(0))), self + " " + cmd);
    }
    assertEquals(List.of("-cp"), ChildJvm.command(List.of(), List.of()).subList(2, 3));
  }

  /** The main class is named by string in runtime; a rename of Main must show here. */
  @Test
  void mainClassIsTiltsEntryPoint() throws Exception {
    assertEquals(Main.class, Class.forName(ChildJvm.MAIN_CLASS));
  }

  @Test
  void childRunsTiltWithTheFlagsAndArguments() throws Exception {
    assertEquals("tilt " + Main.VERSION, run(List.of(), List.of("--version")).trim());
    // a flag reaches the child JVM: picocli wraps help at picocli.usage.width columns
    String narrow = run(List.of("-Dpicocli.usage.width=60"), List.of("--help"));
    String wide = run(List.of("-Dpicocli.usage.width=200"), List.of("--help"));
    assertTrue(narrow.startsWith("Usage: tilt"), narrow);
    assertTrue(narrow.lines().allMatch(l -> l.length() <= 60), narrow);
    assertTrue(wide.lines().anyMatch(l -> l.length() > 80), wide);
  }

  private static String run(List<String> flags, List<String> args) throws Exception {
    Process p = ChildJvm.builder(flags, args).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), out);
    assertEquals(0, p.exitValue(), out);
    return out;
  }
}
