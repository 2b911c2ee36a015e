package ai.tilt.sampling;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.CRC32C;

/**
 * A checksum of the weights the trainer hands a sampling server ({@code tilt-weights.json} beside
 * them): CRC32C of each file (hardware-accelerated, several GB/s: cheap next to writing the files;
 * it catches a torn or stale copy, not tampering) and one checksum over all of them. The trainer
 * writes it with each weight update; {@code tilt serve} checks the files against it before it loads
 * them and answers with the checksum it loaded, which the trainer compares with its own, so a
 * server that loaded other weights fails the run naming itself. Servers that do not answer with one
 * (vLLM, SGLang) are checked by {@code sampling/logp_diff} only.
 */
public final class WeightsManifest {
  /** The manifest's file name. */
  public static final String FILE = "tilt-weights.json";

  private static final ObjectMapper JSON = new ObjectMapper();

  private WeightsManifest() {}

  /** Writes the manifest of every file in {@code dir} and returns its overall checksum. */
  public static String write(Path dir) throws IOException {
    List<Path> files = new ArrayList<>();
    try (Stream<Path> s = Files.list(dir)) {
      s.filter(Files::isRegularFile)
          .filter(p -> !p.getFileName().toString().equals(FILE))
          .sorted()
          .forEach(files::add);
    }
    ObjectNode root = JSON.createObjectNode();
    ObjectNode each = root.putObject("files");
    CRC32C all = new CRC32C();
    for (Path f : files) {
      String name = f.getFileName().toString();
      String sum = crc(f);
      each.put(name, sum);
      all.update((name + ":" + sum + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
    String checksum = hex(all.getValue());
    root.put("checksum", checksum);
    Files.write(dir.resolve(FILE), JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
    return checksum;
  }

  /**
   * Checks {@code dir}'s files against its manifest and returns the overall checksum, or null when
   * the directory has no manifest (weights not written by Tilt's trainer).
   *
   * @throws IOException naming the file that is missing or whose checksum differs
   */
  public static String verify(Path dir) throws IOException {
    Path manifest = dir.resolve(FILE);
    if (!Files.isRegularFile(manifest)) {
      return null;
    }
    ObjectNode root = (ObjectNode) JSON.readTree(manifest.toFile());
    if (!root.has("files") || !root.has("checksum")) {
      throw new IOException(manifest + ": no 'files' or 'checksum' field");
    }
    for (Iterator<Map.Entry<String, com.fasterxml.jackson.databind.JsonNode>> it =
            root.get("files").fields();
        it.hasNext(); ) {
      Map.Entry<String, com.fasterxml.jackson.databind.JsonNode> e = it.next();
      Path f = dir.resolve(e.getKey());
      if (!Files.isRegularFile(f)) {
        throw new IOException(f + " is listed in " + FILE + " but missing");
      }
      String got = crc(f);
      if (!got.equals(e.getValue().asText())) {
        throw new IOException(
            f + " has checksum " + got + ", " + FILE + " says " + e.getValue().asText());
      }
    }
    return root.get("checksum").asText();
  }

  private static String crc(Path f) throws IOException {
    CRC32C c = new CRC32C();
    byte[] buf = new byte[1 << 20];
    try (InputStream in = Files.newInputStream(f)) {
      for (int n; (n = in.read(buf)) > 0; ) {
        c.update(buf, 0, n);
      }
    }
    return hex(c.getValue());
  }

  private static String hex(long v) {
    return String.format("%08x", v);
  }
}
