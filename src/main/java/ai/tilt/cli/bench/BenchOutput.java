package ai.tilt.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Map;

/** How every {@code tilt bench} verb ends: its figures and settings as one JSON line on stdout. */
final class BenchOutput {
  private BenchOutput() {}

  static void print(Map<String, Object> figures) throws Exception {
    System.out.println(new ObjectMapper().writeValueAsString(figures));
  }
}
