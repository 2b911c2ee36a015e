package ai.tilt.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Model.CommandSpec;

/**
 * How every {@code tilt bench} verb ends: its figures and settings as one JSON line on stdout; and
 * the command line a verb's data-parallel comparison runs on each side.
 */
final class BenchOutput {
  private BenchOutput() {}

  /** The arguments {@code tilt bench VERB ...} was given, less --nproc and --rounds. */
  static List<String> withoutWorkers(CommandSpec spec, String verb) {
    List<String> out = new ArrayList<>(List.of("bench", verb));
    List<String> given = spec.commandLine().getParseResult().originalArgs();
    for (int i = given.indexOf(verb) + 1; i < given.size(); i++) {
      String a = given.get(i);
      if (a.equals("--nproc") || a.equals("--rounds")) {
        i++;
      } else if (!a.startsWith("--nproc=") && !a.startsWith("--rounds=")) {
        out.add(a);
      }
    }
    return out;
  }

  static void print(Map<String, Object> figures) throws Exception {
    System.out.println(new ObjectMapper().writeValueAsString(figures));
  }
}
