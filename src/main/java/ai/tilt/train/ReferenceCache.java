package ai.tilt.train;

import ai.djl.ndarray.NDManager;
import ai.tilt.data.ResponseGroup;
import ai.tilt.data.SftExample;
import ai.tilt.model.Precision;
import ai.tilt.runtime.Devices;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * Reference log-probs computed once per dataset split ({@code model.precompute_reference: true})
 * and kept in {@code RUN/reference_logps.json}, so a resumed run reuses them. Each split is stored
 * with a fingerprint of the reference weights and of the tokenised data (every prompt and response
 * id): if either changed, the values are recomputed instead of silently reused. In a data-parallel
 * run only rank 0 computes and writes the file; the other workers read it after a barrier ({@link
 * #readOnly}), so no two processes race on it.
 */
final class ReferenceCache {
  static final String FILE = "reference_logps.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path file;
  private final Path referenceDir;
  private final int microBatch;
  private final String weightsHash;
  private final Precision precision;
  private final ObjectNode stored;
  private final boolean readOnly;

  private ReferenceCache(
      Path file,
      Path referenceDir,
      int microBatch,
      Precision precision,
      String weightsHash,
      ObjectNode stored,
      boolean readOnly) {
    this.file = file;
    this.readOnly = readOnly;
    this.referenceDir = referenceDir;
    this.microBatch = microBatch;
    this.precision = precision;
    this.weightsHash = weightsHash;
    this.stored = stored;
  }

  static ReferenceCache open(Path runDir, Path referenceDir, int microBatch, Precision precision)
      throws IOException {
    return open(runDir, referenceDir, microBatch, precision, false);
  }

  /**
   * The cache of a worker that only reads: a split the file lacks, or holds for other weights or
   * data, is an error rather than a second writer.
   */
  static ReferenceCache readOnly(
      Path runDir, Path referenceDir, int microBatch, Precision precision) throws IOException {
    return open(runDir, referenceDir, microBatch, precision, true);
  }

  private static ReferenceCache open(
      Path runDir, Path referenceDir, int microBatch, Precision precision, boolean readOnly)
      throws IOException {
    Path file = runDir.resolve(FILE);
    ObjectNode stored = JSON.createObjectNode();
    if (Files.exists(file)) {
      try {
        stored = (ObjectNode) JSON.readTree(file.toFile());
      } catch (IOException | ClassCastException e) {
        stored = JSON.createObjectNode(); // unreadable: recompute rather than fail the run
      }
    }
    return new ReferenceCache(
        file, referenceDir, microBatch, precision, hashWeights(referenceDir), stored, readOnly);
  }

  /** The reference log-prob sums of every response of a split, from the cache or computed now. */
  float[][] logps(String split, List<ResponseGroup> groups, long padId, PrintStream console)
      throws IOException {
    if (groups.isEmpty()) {
      return new float[0][];
    }
    String fingerprint = fingerprint(groups);
    JsonNode entry = stored.get(split);
    if (entry != null && fingerprint.equals(entry.path("fingerprint").asText())) {
      JsonNode values = entry.get("logps");
      float[][] out = new float[values.size()][];
      for (int g = 0; g < out.length; g++) {
        out[g] = new float[values.get(g).size()];
        for (int j = 0; j < out[g].length; j++) {
          out[g][j] = (float) values.get(g).get(j).asDouble();
        }
      }
      console.println("reference log-probs of " + split + " reused from " + file);
      return out;
    }
    if (readOnly) {
      throw new IllegalStateException(
          file
              + " holds no reference log-probs of the "
              + split
              + " split for these weights and data; rank 0 writes it before the other workers read"
              + " it, so rank 0 and this worker disagree on the data or the reference");
    }
    long t0 = System.nanoTime();
    float[][] out;
    try (ReferenceModel ref = ReferenceModel.load(referenceDir, Devices.current(), precision)) {
      out = precompute(ref, groups, padId);
    }
    ObjectNode e = stored.putObject(split);
    e.put("fingerprint", fingerprint);
    ArrayNode values = e.putArray("logps");
    for (float[] g : out) {
      ArrayNode row = values.addArray();
      for (float v : g) {
        row.add(v);
      }
    }
    Path tmp = file.resolveSibling(FILE + ".tmp");
    JSON.writeValue(tmp.toFile(), stored);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    console.printf(
        "reference log-probs of %d %s groups computed in %.1f s -> %s%n",
        groups.size(), split, (System.nanoTime() - t0) / 1e9, file);
    return out;
  }

  /** Reference log-prob sums of every response of every group, without a graph. */
  private float[][] precompute(ReferenceModel ref, List<ResponseGroup> groups, long padId) {
    float[][] out = new float[groups.size()][];
    for (int start = 0; start < groups.size(); start += microBatch) {
      int end = Math.min(groups.size(), start + microBatch);
      List<SftExample> rows = new ArrayList<>();
      for (int g = start; g < end; g++) {
        ResponseGroup group = groups.get(g);
        for (long[] r : group.responses()) {
          rows.add(Rows.row(group.prompt(), r, group.line()));
        }
      }
      try (NDManager m = ref.model().manager().newSubManager()) {
        float[] sums = Rows.sequenceLogps(m, ref::tokenLogprobs, rows, padId).toFloatArray();
        int k = 0;
        for (int g = start; g < end; g++) {
          out[g] = new float[groups.get(g).size()];
          for (int j = 0; j < out[g].length; j++) {
            out[g][j] = sums[k++];
          }
        }
      }
    }
    return out;
  }

  private String fingerprint(List<ResponseGroup> groups) {
    MessageDigest d = sha256();
    d.update(weightsHash.getBytes());
    ByteBuffer buf = ByteBuffer.allocate(8);
    for (ResponseGroup g : groups) {
      for (long id : g.prompt()) {
        d.update(buf.clear().putLong(id).array());
      }
      for (long[] r : g.responses()) {
        d.update(buf.clear().putLong(-1).array());
        for (long id : r) {
          d.update(buf.clear().putLong(id).array());
        }
      }
      d.update(buf.clear().putLong(-2).array());
    }
    return HexFormat.of().formatHex(d.digest());
  }

  private static String hashWeights(Path dir) throws IOException {
    MessageDigest d = sha256();
    byte[] chunk = new byte[1 << 20];
    List<Path> files;
    try (Stream<Path> s = Files.list(dir)) {
      files =
          s.filter(
                  p ->
                      p.getFileName().toString().endsWith(".safetensors")
                          || p.getFileName().toString().equals("config.json"))
              .sorted()
              .toList();
    }
    for (Path f : files) {
      d.update(f.getFileName().toString().getBytes());
      try (InputStream in = Files.newInputStream(f)) {
        int n;
        while ((n = in.read(chunk)) > 0) {
          d.update(chunk, 0, n);
        }
      }
    }
    return HexFormat.of().formatHex(d.digest());
  }

  private static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
