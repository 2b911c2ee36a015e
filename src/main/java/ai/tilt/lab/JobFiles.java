package ai.tilt.lab;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** What the lab runner reads of a job's files: the inputs its command names, the end of its log. */
final class JobFiles {
  private static final ObjectMapper JSON = new ObjectMapper();

  private JobFiles() {}

  /**
   * SHA-256 of every regular file the command line names, alone or as a --set value (the base
   * recipe, data files): an edited recipe reruns the jobs that use it. The job's own outputs (under
   * its directory) and files over 256 MiB are left out (weights are steps' results, covered by
   * {@link #depsFinishedAfter}).
   */
  static ObjectNode hashes(List<String> argv, Path ownDir) throws IOException {
    ObjectNode out = JSON.createObjectNode();
    for (String a : argv) {
      String v = a.contains("=") ? a.substring(a.indexOf('=') + 1) : a;
      if (v.isEmpty() || v.startsWith("{") || v.startsWith("-")) {
        continue;
      }
      Path f;
      try {
        f = Path.of(v);
      } catch (java.nio.file.InvalidPathException e) {
        continue;
      }
      if (f.toAbsolutePath().normalize().startsWith(ownDir.toAbsolutePath().normalize())) {
        continue; // the job's own output ({out}/...), which exists only once it has run
      }
      if (Files.isRegularFile(f) && Files.size(f) <= (256L << 20)) {
        try {
          java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
          out.put(v, java.util.HexFormat.of().formatHex(md.digest(Files.readAllBytes(f))));
        } catch (java.security.NoSuchAlgorithmException e) {
          throw new IllegalStateException(e);
        }
      }
    }
    return out;
  }

  static String tail(Path file, int lines) {
    try {
      List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
      return "    "
          + String.join("\n    ", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "    (no log: " + e.getMessage() + ")";
    }
  }
}
