package ai.tilt.train;

import ai.tilt.model.CausalLM;
import ai.tilt.model.Head;
import ai.tilt.runtime.FileTrees;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Checkpoint directories {@code RUN/step-NNNNNN/}: the model in HF layout (loadable by {@code tilt
 * generate} and transformers), its tokenizer files, {@code optimizer.safetensors}, {@code
 * trainer_state.json} and the resolved {@code recipe.yaml}.
 *
 * <p>A checkpoint is written into a hidden temporary directory, closed by a {@code complete.json}
 * marker that lists every file with its size, then renamed into place; the {@code latest} pointer
 * is written last. A directory whose marker is missing or whose files do not match it is never
 * loaded, so a run killed while saving loses nothing it had finished.
 */
public final class Checkpoints {
  public static final String MARKER = "complete.json";
  public static final String LATEST = "latest";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Logger LOG = LoggerFactory.getLogger(Checkpoints.class);

  private Checkpoints() {}

  public static String dirName(long step) {
    return String.format("step-%06d", step);
  }

  private static long sum(ObjectNode files) {
    long total = 0;
    for (var it = files.elements(); it.hasNext(); ) {
      total += it.next().asLong();
    }
    return total;
  }

  /**
   * Writes a complete checkpoint of {@code step} and points {@code latest} at it.
   *
   * <p>A model with LoRA adapters is saved as PEFT saves one: {@code adapter_config.json} (naming
   * the run's base) and {@code adapter_model.safetensors}, beside the tokenizer files, and no copy
   * of the base's weights.
   *
   * @param policy the weights (or adapters, naming the run's base) and the value head, if any
   * @param source where the run's model came from: its side files (config.json, tokenizer and
   *     generation files, read when the run started; the source's own config.json keeps every key
   *     the model was published with)
   */
  /** What else the run's state needs in a checkpoint (the sampling servers' state). */
  @FunctionalInterface
  public interface Extra {
    void write(Path dir) throws IOException;
  }

  public static Path write(
      Path runDir,
      Policy policy,
      ModelSource source,
      Optimizer optimizer,
      TrainerState state,
      Recipe recipe,
      long maxShardBytes,
      Extra extra)
      throws IOException {
    CausalLM model = policy.model();
    Files.createDirectories(runDir);
    String name = dirName(state.step());
    Path tmp = runDir.resolve("." + name + ".tmp");
    FileTrees.deleteTree(tmp);
    Files.createDirectories(tmp);
    Map<String, byte[]> sideFiles = source.sideFiles();
    policy.saveModel(tmp, maxShardBytes);
    for (Map.Entry<String, byte[]> f : sideFiles.entrySet()) {
      Files.write(tmp.resolve(f.getKey()), f.getValue());
    }
    if (sideFiles.containsKey("config.json") && model.head() == Head.SCORE) {
      // a reward model made from a causal LM gets its class and label written over the LM's
      ObjectNode config = (ObjectNode) JSON.readTree(sideFiles.get("config.json"));
      config.putArray("architectures").add(Head.SCORE.architecture(model.config().family()));
      config.putObject("id2label").put("0", "LABEL_0");
      config.putObject("label2id").put("LABEL_0", 0);
      Files.writeString(
          tmp.resolve("config.json"),
          JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config));
    }
    optimizer.save(tmp.resolve("optimizer.safetensors"));
    policy.saveTrainingState(tmp);
    state.write(tmp.resolve("trainer_state.json"));
    Files.writeString(
        tmp.resolve("recipe.yaml"), RecipeLoader.toYaml(recipe), StandardCharsets.UTF_8);
    extra.write(tmp); // inside the complete marker: a checkpoint has all of it or is incomplete
    ObjectNode marker = JSON.createObjectNode();
    marker.put("step", state.step());
    ObjectNode files = marker.putObject("files");
    try (Stream<Path> s = Files.list(tmp)) {
      for (Path p : s.sorted().toList()) {
        files.put(p.getFileName().toString(), Files.size(p));
      }
    }
    Files.writeString(
        tmp.resolve(MARKER), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(marker));
    Path dest = runDir.resolve(name);
    FileTrees.deleteTree(dest);
    Files.move(tmp, dest, StandardCopyOption.ATOMIC_MOVE);
    Path latestTmp = runDir.resolve(LATEST + ".tmp");
    Files.writeString(latestTmp, name + "\n");
    Files.move(
        latestTmp,
        runDir.resolve(LATEST),
        StandardCopyOption.REPLACE_EXISTING,
        StandardCopyOption.ATOMIC_MOVE);
    if (LOG.isDebugEnabled()) {
      LOG.debug("checkpoint {} written: {} files, {} bytes", dest, files.size(), sum(files));
    }
    return dest;
  }

  /** Refuses a resume from an incomplete checkpoint or with a recipe that changes what it is. */
  static void checkResume(Recipe recipe, Path checkpoint, PrintStream console) throws IOException {
    String why = Checkpoints.incompleteReason(checkpoint);
    if (why != null) {
      throw new IllegalArgumentException("checkpoint " + checkpoint + " is incomplete: " + why);
    }
    Recipe saved = RecipeLoader.loadSaved(checkpoint.resolve("recipe.yaml"));
    RecipeLoader.Diff diff = RecipeLoader.diff(saved, recipe);
    if (!diff.refused().isEmpty()) {
      throw new IllegalArgumentException(
          "cannot resume "
              + checkpoint
              + " with a recipe that changes "
              + String.join("; ", diff.refused())
              + " (only "
              + String.join(", ", RecipeLoader.MUTABLE)
              + " may change)");
    }
    for (String change : diff.allowed()) {
      console.println("tilt train: resuming with " + change);
    }
  }

  /** Null when complete, else why not. */
  public static String incompleteReason(Path dir) {
    Path marker = dir.resolve(MARKER);
    if (!Files.exists(marker)) {
      return "no " + MARKER + " (the save did not finish)";
    }
    try {
      JsonNode files = JSON.readTree(marker.toFile()).get("files");
      for (Iterator<Map.Entry<String, JsonNode>> it = files.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        Path f = dir.resolve(e.getKey());
        if (!Files.exists(f)) {
          return e.getKey() + " is missing";
        }
        if (Files.size(f) != e.getValue().asLong()) {
          return e.getKey()
              + " has "
              + Files.size(f)
              + " bytes, "
              + MARKER
              + " says "
              + e.getValue().asLong();
        }
      }
      return null;
    } catch (IOException | RuntimeException e) {
      return MARKER + " is unreadable: " + e.getMessage();
    }
  }

  /**
   * The newest complete checkpoint of a run: the one {@code latest} names if it is complete, else
   * the highest complete step directory. Incomplete ones passed over are reported to {@code
   * skipped}.
   */
  public static Path findLatest(Path runDir, List<String> skipped) throws IOException {
    if (!Files.isDirectory(runDir)) {
      return null;
    }
    Path pointer = runDir.resolve(LATEST);
    if (Files.exists(pointer)) {
      Path named = runDir.resolve(Files.readString(pointer).trim());
      String why = Files.isDirectory(named) ? incompleteReason(named) : "missing";
      if (why == null) {
        return named;
      }
      skipped.add(named.getFileName() + " (" + why + ")");
    }
    for (Path dir : stepDirs(runDir)) {
      String why = incompleteReason(dir);
      if (why == null) {
        return dir;
      }
      if (!skipped.toString().contains(dir.getFileName().toString())) {
        skipped.add(dir.getFileName() + " (" + why + ")");
      }
    }
    return null;
  }

  /** Step directories of a run, highest step first (by number: step-1000000 after step-999999). */
  public static List<Path> stepDirs(Path runDir) throws IOException {
    if (!Files.isDirectory(runDir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(runDir)) {
      return s.filter(
              p -> Files.isDirectory(p) && p.getFileName().toString().matches("step-\\d{6,}"))
          .sorted(Comparator.comparingLong(Checkpoints::stepOf).reversed())
          .toList();
    }
  }

  static long stepOf(Path dir) {
    return Long.parseLong(dir.getFileName().toString().substring("step-".length()));
  }

  /**
   * Before a run resumes from {@code from}, renames step directories beyond it (written by the
   * branch that is being abandoned) to {@code abandoned-step-N}, so they are neither resumed from
   * nor pruned in place of the new branch's checkpoints; nothing is deleted.
   */
  public static List<Path> setAsideNewerThan(Path runDir, Path from) throws IOException {
    List<Path> moved = new ArrayList<>();
    long step = stepOf(from);
    for (Path dir : stepDirs(runDir)) {
      if (stepOf(dir) > step) {
        Path to =
            runDir.resolve("abandoned-" + dir.getFileName() + "-" + System.currentTimeMillis());
        Files.move(dir, to, StandardCopyOption.ATOMIC_MOVE);
        moved.add(to);
      }
    }
    return moved;
  }

  /** Deletes the oldest complete checkpoints beyond the newest {@code keepLast} (0 keeps all). */
  public static List<Path> prune(Path runDir, int keepLast) throws IOException {
    List<Path> removed = new ArrayList<>();
    if (keepLast <= 0) {
      return removed;
    }
    Path pointer = runDir.resolve(LATEST);
    String latest = Files.exists(pointer) ? Files.readString(pointer).trim() : "";
    int kept = 0;
    for (Path dir : stepDirs(runDir)) {
      if (incompleteReason(dir) != null) {
        continue;
      }
      if (++kept > keepLast && !dir.getFileName().toString().equals(latest)) {
        FileTrees.deleteTree(dir);
        removed.add(dir);
      }
    }
    return removed;
  }
}
