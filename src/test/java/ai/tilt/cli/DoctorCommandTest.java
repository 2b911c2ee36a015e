package ai.tilt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.engine.StandardCapabilities;
import ai.tilt.runtime.RuntimeInfo;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tilt doctor} on this machine: what it finds, and the fix when a run's needs are missing.
 */
class DoctorCommandTest {
  @TempDir Path tmp;

  private static String stdout(String... args) {
    PrintStream old = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true));
    try {
      int code = CliTest.run(args).code();
      return code + "\n" + out;
    } finally {
      System.setOut(old);
    }
  }

  @Test
  void jsonDescribesTheCpuEngineAndMeasuresTheRunDirsDisk() throws Exception {
    String[] r =
        stdout("doctor", "--json", "--run-dir", tmp.resolve("not/yet/made").toString())
            .split("\n", 2);
    assertEquals("0", r[0]);
    JsonNode j = new ObjectMapper().readTree(r[1]);
    // what the engine itself says, so the test holds on a CUDA machine and on any libtorch
    Engine engine = Engine.getEngine("PyTorch");
    boolean cuda = engine.hasCapability(StandardCapabilities.CUDA);
    int gpus = cuda ? engine.getGpuCount() : 0;
    assertTrue(
        j.get("engine").asText().startsWith("PyTorch " + engine.getVersion() + " (DJL 0.36.0)"),
        r[1]);
    assertTrue(j.get("flavour").asText().startsWith(cuda ? "cu" : "cpu"), r[1]);
    assertEquals(gpus > 0 ? "cuda:0" : "cpu", j.get("device").asText());
    assertEquals(gpus, j.get("gpus").size());
    int expected =
        System.getProperty("tilt.threads") != null
            ? Integer.getInteger("tilt.threads")
            : Runtime.getRuntime().availableProcessors();
    assertEquals(expected, j.get("threads").asInt());
    // the nearest directory that exists is where the free space is measured
    assertEquals(tmp.toString(), j.get("diskPath").asText());
    assertTrue(j.get("diskFreeBytes").asLong() > 0);
    assertTrue(j.get("bf16").asText().startsWith("ok"), j.get("bf16").asText());
    assertEquals(0, j.get("problems").size(), r[1]);
  }

  @Test
  void aGpuThatIsNotThereIsAProblemWithItsFix() {
    String before = System.getProperty("tilt.device");
    Engine engine = Engine.getEngine("PyTorch");
    int gpus = engine.hasCapability(StandardCapabilities.CUDA) ? engine.getGpuCount() : 0;
    String missing = "cuda:" + gpus; // one past the last GPU there is, on any machine
    try {
      String[] r =
          stdout("--device", missing, "doctor", "--run-dir", tmp.toString()).split("\n", 2);
      assertEquals("1", r[0]);
      assertTrue(
          r[1].contains(
              "problem: device " + missing + " requested but libtorch sees " + gpus + " GPU(s)"),
          r[1]);
      assertTrue(r[1].contains("fix: run on a GPU machine with the CUDA build"), r[1]);
      assertTrue(r[1].contains("not ready: 1 problem(s) above"), r[1]);
    } finally {
      if (before == null) {
        System.clearProperty("tilt.device");
      } else {
        System.setProperty("tilt.device", before);
      }
    }
  }

  @Test
  void aBadThreadCountIsAProblemNamingTheSetting() {
    String before = System.getProperty("tilt.threads");
    try {
      System.setProperty("tilt.threads", "two");
      String[] r = stdout("doctor", "--run-dir", tmp.toString()).split("\n", 2);
      assertEquals("1", r[0]);
      assertTrue(
          r[1].contains(
              "problem: tilt.threads=two: threads must be a whole number >= 1\n  fix: unset it"),
          r[1]);
    } finally {
      if (before == null) {
        System.clearProperty("tilt.threads");
      } else {
        System.setProperty("tilt.threads", before);
      }
    }
  }

  @Test
  void bytesReadLikeAHuman() {
    assertEquals("820 MB", RuntimeInfo.bytes(820L << 20));
    assertEquals("1.5 GB", RuntimeInfo.bytes(3L << 29));
    assertEquals("?", RuntimeInfo.bytes(-1));
  }
}
