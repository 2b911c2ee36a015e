package ai.tilt.sampling;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * What the sampling servers held when a checkpoint was written ({@code sampler-state.json} in the
 * checkpoint), so that a resumed run samples what the uninterrupted one did: the weights the
 * servers had loaded (with staleness k they keep serving them for up to k more iterations; the
 * directory is kept on disk while a checkpoint names it) and, in an overlapped run, the samples of
 * the next iteration that were being drawn (waited for and saved whole, since the weights they were
 * drawn on are gone after the update).
 *
 * @param syncedIteration the iteration whose starting weights the servers held, or -1
 * @param syncedDir that weights directory's name under {@code weights_dir}, or null
 * @param syncedChecksum its {@link WeightsManifest} checksum, or null
 * @param prefetch the next iteration's samples of an overlapped run, or null
 */
public record SamplerState(
    long syncedIteration, String syncedDir, String syncedChecksum, Prefetched prefetch) {
  /** The checkpoint's file. */
  public static final String FILE = "sampler-state.json";

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * Samples of {@code iteration} drawn on the weights of {@code weightsIteration}, for {@code
   * prompts} in order (C per prompt).
   */
  public record Prefetched(
      long iteration,
      long weightsIteration,
      List<long[]> prompts,
      List<Generator.Generation> generations) {}

  /** Writes this state into a checkpoint directory. */
  public void write(Path checkpoint) throws IOException {
    ObjectNode root = JSON.createObjectNode();
    root.put("synced_iteration", syncedIteration);
    root.put("synced_dir", syncedDir);
    root.put("synced_checksum", syncedChecksum);
    if (prefetch != null) {
      ObjectNode p = root.putObject("prefetch");
      p.put("iteration", prefetch.iteration());
      p.put("weights_iteration", prefetch.weightsIteration());
      ArrayNode prompts = p.putArray("prompts");
      for (long[] ids : prefetch.prompts()) {
        ArrayNode a = prompts.addArray();
        for (long id : ids) {
          a.add(id);
        }
      }
      ArrayNode gens = p.putArray("generations");
      for (Generator.Generation g : prefetch.generations()) {
        ObjectNode o = gens.addObject();
        ArrayNode ids = o.putArray("ids");
        for (long id : g.completionIds()) {
          ids.add(id);
        }
        ArrayNode lps = o.putArray("logprobs");
        for (float lp : g.logprobs()) {
          lps.add(lp);
        }
        o.put("finish", g.finishReason().name());
      }
    }
    Files.write(checkpoint.resolve(FILE), JSON.writeValueAsBytes(root));
  }

  /**
   * The state a checkpoint holds, or null when it has none (written without servers, or by an
   * earlier version).
   *
   * @throws IOException naming the file and the field when it is malformed
   */
  public static SamplerState read(Path checkpoint) throws IOException {
    Path f = checkpoint.resolve(FILE);
    if (!Files.isRegularFile(f)) {
      return null;
    }
    JsonNode root = JSON.readTree(f.toFile());
    try {
      Prefetched prefetch = null;
      JsonNode p = root.get("prefetch");
      if (p != null && !p.isNull()) {
        List<long[]> prompts = new ArrayList<>();
        for (JsonNode a : p.get("prompts")) {
          prompts.add(longs(a));
        }
        List<Generator.Generation> gens = new ArrayList<>();
        for (JsonNode o : p.get("generations")) {
          float[] lps = new float[o.get("logprobs").size()];
          for (int i = 0; i < lps.length; i++) {
            lps[i] = (float) o.get("logprobs").get(i).asDouble();
          }
          gens.add(
              new Generator.Generation(
                  longs(o.get("ids")),
                  lps,
                  Generator.FinishReason.valueOf(o.get("finish").asText())));
        }
        prefetch =
            new Prefetched(
                p.get("iteration").asLong(), p.get("weights_iteration").asLong(), prompts, gens);
      }
      return new SamplerState(
          root.get("synced_iteration").asLong(),
          root.get("synced_dir").isNull() ? null : root.get("synced_dir").asText(),
          root.get("synced_checksum").isNull() ? null : root.get("synced_checksum").asText(),
          prefetch);
    } catch (NullPointerException | IllegalArgumentException e) {
      throw new IOException(f + ": malformed (" + e + ")", e);
    }
  }

  private static long[] longs(JsonNode a) {
    long[] out = new long[a.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = a.get(i).asLong();
    }
    return out;
  }
}
