package ai.tilt.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.tilt.runtime.FileTrees;
import ai.tilt.runtime.HubCache;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * LoRA adapters in PEFT's own files: {@code adapter_config.json} and {@code
 * adapter_model.safetensors} with tensors {@code base_model.model.<HF module>.lora_A.weight} (r,
 * in) and {@code .lora_B.weight} (out, r), float32. {@code PeftModel.from_pretrained(base, dir)}
 * loads what {@link #save} writes, and {@link #load} reads what PEFT's {@code save_pretrained}
 * writes (checked against a committed fixture made by PEFT 0.21).
 */
public final class LoraFiles {
  public static final String CONFIG = "adapter_config.json";
  public static final String WEIGHTS = "adapter_model.safetensors";
  private static final ObjectMapper JSON = new ObjectMapper();

  private LoraFiles() {}

  /** Whether a directory holds a PEFT adapter. */
  public static boolean isAdapter(Path dir) {
    return Files.isRegularFile(dir.resolve(CONFIG));
  }

  /**
   * Writes the adapters; {@code basePath} becomes {@code base_model_name_or_path}, how PEFT (and
   * {@link #loadWithBase}) find the base model.
   */
  public static void save(CausalLM model, Path dir, String basePath) throws IOException {
    Lora lora = model.lora();
    Files.createDirectories(dir);
    ObjectNode c = JSON.createObjectNode();
    Lora.Spec spec = lora.spec();
    c.put("peft_type", "LORA").put("task_type", "CAUSAL_LM");
    c.put("base_model_name_or_path", basePath);
    c.put("r", spec.rank()).put("lora_dropout", spec.dropout());
    if (spec.alpha() == Math.rint(spec.alpha())) {
      c.put("lora_alpha", (long) spec.alpha()); // as PEFT writes it
    } else {
      c.put("lora_alpha", spec.alpha());
    }
    ArrayNode targets = c.putArray("target_modules");
    boolean all = spec.targetModules().equals(List.of("all-linear"));
    // as PEFT writes all-linear: the modules it resolved to, by full name
    for (String t : all ? lora.modules() : spec.targetModules()) {
      targets.add(t);
    }
    c.put("fan_in_fan_out", model.names().storesInputFirst());
    c.put("bias", "none").put("use_rslora", spec.rslora()).put("use_dora", false);
    c.put("init_lora_weights", true).put("inference_mode", true);
    c.putNull("modules_to_save");
    c.putObject("rank_pattern");
    c.putObject("alpha_pattern");
    c.putNull("layers_to_transform");
    c.putNull("layers_pattern");
    c.putNull("revision");
    Files.writeString(
        dir.resolve(CONFIG), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(c) + "\n");
    Safetensors.write(dir.resolve(WEIGHTS), lora.parameters(), "F32", Map.of());
  }

  /** The spec an adapter directory describes (no weights read). */
  public static Lora.Spec spec(Path dir) throws IOException {
    Path file = dir.resolve(CONFIG);
    JsonNode c = JsonFiles.read(file);
    String type = c.path("peft_type").asText("LORA");
    refuse(!type.equals("LORA"), file, "peft_type " + type + " (Tilt reads LoRA adapters)");
    refuse(c.path("use_dora").asBoolean(false), file, "use_dora: true (DoRA is not supported)");
    refuse(!c.path("bias").asText("none").equals("none"), file, "bias other than none");
    refuse(
        c.hasNonNull("modules_to_save") && c.get("modules_to_save").size() > 0,
        file,
        "modules_to_save (fully trained extra modules)");
    refuse(
        c.path("rank_pattern").size() > 0 || c.path("alpha_pattern").size() > 0,
        file,
        "rank_pattern or alpha_pattern (per-module ranks)");
    List<String> targets = new ArrayList<>();
    JsonNode t = c.path("target_modules");
    if (t.isArray()) {
      t.forEach(n -> targets.add(n.asText()));
    } else if (t.isTextual()) {
      targets.add(t.asText());
    }
    return new Lora.Spec(
        c.path("r").asInt(8),
        c.path("lora_alpha").asDouble(8),
        c.path("lora_dropout").asDouble(0),
        targets.isEmpty() ? null : targets,
        c.path("use_rslora").asBoolean(false));
  }

  private static void refuse(boolean bad, Path file, String what) {
    if (bad) {
      throw new IllegalArgumentException(file + ": " + what + " is not supported");
    }
  }

  /**
   * Puts the adapters of {@code dir} on {@code model}.
   *
   * @throws IllegalArgumentException when a tensor names a module the model does not have, or its
   *     shape does not fit the module's (naming the adapter, the module and both shapes)
   */
  public static Lora load(CausalLM model, Path dir, String baseName) throws IOException {
    Lora.Spec spec = spec(dir);
    Map<String, long[]> modules = model.names().linearModules();
    Lora lora = Lora.empty(model, spec);
    try (SafetensorsReader r = Safetensors.open(dir.resolve(WEIGHTS))) {
      Map<String, String[]> pairs = new LinkedHashMap<>();
      for (String name : r.tensors().keySet()) {
        String module = moduleOf(name);
        if (module == null) {
          throw new IllegalArgumentException(
              dir.resolve(WEIGHTS) + ": tensor '" + name + "' is not a LoRA A or B weight");
        }
        String[] ab = pairs.computeIfAbsent(module, k -> new String[2]);
        ab[name.contains(".lora_A.") ? 0 : 1] = name;
      }
      for (Map.Entry<String, String[]> e : pairs.entrySet()) {
        String module = e.getKey();
        long[] io = modules.get(module);
        if (io == null) {
          throw new IllegalArgumentException(
              "adapter "
                  + dir
                  + " adapts '"
                  + module
                  + "', which base "
                  + baseName
                  + " does not have (its linear modules look like "
                  + modules.keySet().iterator().next()
                  + ")");
        }
        if (e.getValue()[0] == null || e.getValue()[1] == null) {
          throw new IllegalArgumentException(
              dir.resolve(WEIGHTS) + ": '" + module + "' lacks its lora_A or lora_B weight");
        }
        NDArray a = r.load(e.getValue()[0], lora.manager());
        NDArray b = r.load(e.getValue()[1], lora.manager());
        Shape wantA = new Shape(spec.rank(), io[0]);
        Shape wantB = new Shape(io[1], spec.rank());
        if (!a.getShape().equals(wantA) || !b.getShape().equals(wantB)) {
          throw new IllegalArgumentException(
              "adapter "
                  + dir
                  + " does not fit base "
                  + baseName
                  + ": '"
                  + module
                  + "' has lora_A "
                  + a.getShape()
                  + " and lora_B "
                  + b.getShape()
                  + ", the base's module takes "
                  + io[0]
                  + " inputs and gives "
                  + io[1]
                  + " outputs (rank "
                  + spec.rank()
                  + ": expected "
                  + wantA
                  + " and "
                  + wantB
                  + ")");
        }
        lora.put(module, a, b);
      }
    } catch (RuntimeException | IOException e) {
      lora.close();
      throw e;
    }
    model.setLora(lora);
    return lora;
  }

  /** {@code base_model.model.X.lora_A.weight} -> X (PEFT's default adapter name dropped). */
  static String moduleOf(String tensor) {
    if (!tensor.startsWith(Lora.PREFIX)) {
      return null;
    }
    String rest = tensor.substring(Lora.PREFIX.length());
    for (String suffix : List.of(".lora_A.weight", ".lora_B.weight")) {
      for (String form : List.of(suffix, suffix.replace(".weight", ".default.weight"))) {
        if (rest.endsWith(form)) {
          return rest.substring(0, rest.length() - form.length());
        }
      }
    }
    return null;
  }

  /**
   * The base an adapter names ({@code base_model_name_or_path}): as written when it exists from
   * here, else relative to the adapter's own directory, else a hub name in the HuggingFace cache
   * (at the config's {@code revision}).
   */
  public static Path baseOf(Path dir) throws IOException {
    JsonNode config = JsonFiles.read(dir.resolve(CONFIG));
    String base = config.path("base_model_name_or_path").asText("");
    if (base.isEmpty()) {
      throw new IOException(dir.resolve(CONFIG) + ": no base_model_name_or_path; pass the base");
    }
    Path p = Path.of(base);
    if (Files.isDirectory(p)) {
      return p;
    }
    Path near = dir.resolve(base).normalize();
    if (Files.isDirectory(near)) {
      return near;
    }
    if (HubCache.isRepoId(base)) { // PEFT writes the hub name the base was loaded by
      String revision = config.path("revision").asText(null);
      try {
        return HubCache.snapshot(HubCache.RepoType.MODEL, base, revision);
      } catch (IOException e) {
        throw new IOException(
            dir.resolve(CONFIG) + ": its base " + base + ": " + e.getMessage(), e);
      }
    }
    throw new IOException(
        dir.resolve(CONFIG) + ": its base " + base + " is not a directory here; pass the base");
  }

  /**
   * A model from a directory that is either a HF model or a PEFT adapter (then its base is loaded
   * and the adapter put on it), with an optional explicit adapter on top of a HF model.
   */
  public static CausalLM loadWithBase(Path dir, Path adapter, Device device, Precision precision)
      throws IOException {
    Path base = dir;
    Path lora = adapter;
    if (adapter == null && isAdapter(dir) && !Files.exists(dir.resolve("config.json"))) {
      base = baseOf(dir);
      lora = dir;
    }
    CausalLM model = ModelFiles.load(base, device, Precision.FP32);
    try {
      if (lora != null) {
        load(model, lora, base.toString());
      }
      model.setPrecision(precision);
      return model;
    } catch (RuntimeException | IOException e) {
      model.close();
      throw e;
    }
  }

  /**
   * Writes {@code adapter} merged into its base as a HF model directory transformers loads: W + s B
   * A in every adapted module, the base's config.json and generation config, and the tokenizer
   * files of the adapter's directory (else the base's).
   *
   * @param base the base directory, or null for the adapter's {@code base_model_name_or_path}
   */
  public static void exportMerged(Path adapter, Path base, Path out, long maxShardBytes)
      throws IOException {
    Path baseDir = base != null ? base : baseOf(adapter);
    try (CausalLM model = ModelFiles.load(baseDir, Device.cpu(), Precision.FP32)) {
      Lora lora = load(model, adapter, baseDir.toString());
      lora.mergeInto(model.parameters(), model.names().storesInputFirst());
      model.setLora(null);
      lora.close();
      Path tmp = out.resolveSibling("." + out.getFileName() + ".tmp");
      FileTrees.deleteTree(tmp);
      Files.createDirectories(tmp);
      ModelFiles.save(model, tmp, "F32", maxShardBytes);
      for (String f : List.of("config.json", "generation_config.json")) {
        if (Files.exists(baseDir.resolve(f))) {
          Files.copy(baseDir.resolve(f), tmp.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
      }
      for (String f :
          List.of(
              "tokenizer.json",
              "tokenizer_config.json",
              "special_tokens_map.json",
              "chat_template.jinja")) {
        Path from = Files.exists(adapter.resolve(f)) ? adapter.resolve(f) : baseDir.resolve(f);
        if (Files.exists(from)) {
          Files.copy(from, tmp.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
      }
      FileTrees.deleteTree(out);
      Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE);
    }
  }
}
