package ai.tilt.train;

import ai.tilt.loss.Loss;
import ai.tilt.reward.RewardSpec;
import ai.tilt.sampling.GeneratorSpec;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.InvalidTypeIdException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * Reads YAML recipes into {@link Recipe}: {@code --set a.b=value} overrides applied to the YAML
 * tree first, then one strict binding in which an unknown key, a wrong type or an unknown loss or
 * reward type fails with the key's dotted path named. Also writes the resolved recipe back (every
 * default filled in) and says which keys differ between two recipes ({@link RecipeHelp} explains
 * them).
 */
public final class RecipeLoader {
  /**
   * Keys that may change when a run is resumed (each change is logged): how long it runs, how it
   * logs and saves, and the knobs a user turns after a divergence. Everything else must match the
   * checkpoint.
   */
  public static final List<String> MUTABLE =
      List.of(
          "name",
          "device",
          "train.max_steps",
          "train.epochs",
          "train.lr",
          "train.min_lr",
          "train.max_grad_norm",
          "train.max_bad_steps",
          "train.zero", // the optimizer file is whole whatever the sharding
          "online.iterations", // an on-policy run's length, as train.max_steps is a dataset run's
          "online.generator.", // who samples: a resumed run may use another server, or none
          "checkpoint.",
          "log.",
          "eval.",
          "dist."); // how workers wait and talk, not what they compute

  /**
   * Keys of earlier versions that were renamed because their meaning changed, with what to use
   * instead. A recipe that still has one fails naming it; a checkpoint's saved recipe is migrated.
   */
  private static final Map<String, String> RENAMED =
      Map.of(
          "checkpoint.every",
          "checkpoint.every_steps, which counts optimizer steps in every run (on-policy runs"
              + " counted iterations; an iteration makes online.reuse x ceil(B / M) steps)",
          "log.eval_every",
          "eval.every_steps",
          "online.eval_every",
          "eval.every_steps, which counts optimizer steps, not iterations (an iteration makes"
              + " online.reuse x ceil(B / M) steps)");

  /**
   * The recipe's sealed choices, bound by their {@code type} key: what each is called in messages,
   * its type names, and the record of a name.
   */
  record Choice(String what, List<String> names, Function<String, Class<?>> classOf) {}

  /** The choice a record component of this type is, or null for a plain value or section. */
  static Choice choiceOf(Class<?> type) {
    return CHOICES.get(type);
  }

  private static final Map<Class<?>, Choice> CHOICES =
      Map.of(
          Loss.class,
          new Choice("loss", Loss.names(), Loss::classOf),
          RewardSpec.class,
          new Choice("reward", RewardSpec.names(), RewardSpec::classOf),
          GeneratorSpec.class,
          new Choice("generator", GeneratorSpec.names(), GeneratorSpec::classOf));

  private static final YAMLMapper YAML = mapper();

  private RecipeLoader() {}

  private static YAMLMapper mapper() {
    YAMLMapper m =
        new YAMLMapper(
            new YAMLFactory()
                .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
                .disable(YAMLGenerator.Feature.USE_NATIVE_TYPE_ID));
    m.setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);
    m.enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    m.enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES);
    m.enable(DeserializationFeature.ACCEPT_SINGLE_VALUE_AS_ARRAY);
    m.enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    return m;
  }

  /** Reads a recipe file and applies {@code key.path=value} overrides. */
  public static Recipe load(Path file, List<String> overrides) throws IOException {
    if (!Files.exists(file)) {
      throw new IOException("recipe not found: " + file);
    }
    JsonNode tree;
    try {
      tree = YAML.readTree(file.toFile());
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(file + ": not valid YAML: " + e.getOriginalMessage());
    }
    if (tree == null || tree.isMissingNode() || tree.isNull()) {
      tree = YAML.createObjectNode();
    }
    if (!tree.isObject()) {
      throw new IllegalArgumentException(file + ": a recipe is a mapping of keys to values");
    }
    return bind((ObjectNode) tree, overrides, file.toString());
  }

  /**
   * Reads the recipe a checkpoint was written with, migrating keys an earlier version wrote (see
   * {@link #RENAMED}): {@code checkpoint.every} becomes {@code checkpoint.every_steps}; the old
   * evaluation cadences are dropped (evaluation settings may change on resume anyway); an
   * in-process generator loses the server keys it used to be written with.
   */
  public static Recipe loadSaved(Path file) throws IOException {
    JsonNode tree = YAML.readTree(file.toFile());
    if (!(tree instanceof ObjectNode root)) {
      throw new IllegalArgumentException(file + ": a recipe is a mapping of keys to values");
    }
    if (root.get("checkpoint") instanceof ObjectNode c && c.has("every")) {
      c.set("every_steps", c.remove("every"));
    }
    for (String section : List.of("log", "online")) {
      if (root.get(section) instanceof ObjectNode o) {
        o.remove("eval_every");
      }
    }
    // before online.generator was a choice of types, an in-process one carried the server's keys
    if (root.get("online") instanceof ObjectNode o
        && o.get("generator") instanceof ObjectNode g
        && "in_process".equals(g.path("type").asText())) {
      g.retain("type");
    }
    return bind(root, List.of(), file.toString());
  }

  /** The node at a dotted path, or null. */
  private static JsonNode at(JsonNode tree, String dotted) {
    JsonNode node = tree;
    for (String k : dotted.split("\\.")) {
      node = node == null ? null : node.get(k);
    }
    return node;
  }

  /** Binds a YAML tree (already read) with overrides; {@code origin} names it in errors. */
  public static Recipe bind(ObjectNode tree, List<String> overrides, String origin) {
    return bind(tree, overrides, origin, Recipe.class);
  }

  /**
   * Binds a YAML tree to any record type with the recipe's rules: shorthands, overrides, strict
   * keys and the same key-naming errors (for sections bound on their own, and their tests).
   */
  public static <T> T bind(ObjectNode tree, List<String> overrides, String origin, Class<T> type) {
    RecipeShorthands.expand(tree);
    for (String o : overrides) {
      applyOverride(tree, o);
      RecipeShorthands.expand(tree); // so "loss=dpo" then "loss.beta=0.3" keeps the type
    }
    if (type == Recipe.class) {
      for (Map.Entry<String, String> e : RENAMED.entrySet()) {
        if (at(tree, e.getKey()) != null) {
          throw new IllegalArgumentException(
              origin + ": key '" + e.getKey() + "' was renamed: use " + e.getValue());
        }
      }
    }
    try {
      return YAML.treeToValue(tree, type);
    } catch (UnrecognizedPropertyException e) {
      TreeSet<String> known = new TreeSet<>();
      for (Object k : e.getKnownPropertyIds()) {
        known.add(k.toString());
      }
      throw new IllegalArgumentException(
          origin
              + ": unknown key '"
              + path(e)
              + "' (known here: "
              + String.join(", ", known)
              + ")");
    } catch (InvalidTypeIdException e) {
      Choice c =
          CHOICES.getOrDefault(
              e.getBaseType() == null ? Loss.class : e.getBaseType().getRawClass(),
              CHOICES.get(Loss.class));
      String known = String.join(", ", c.names());
      if (e.getTypeId() == null) {
        throw new IllegalArgumentException(
            origin
                + ": key '"
                + path(e)
                + "' needs a type: NAME or {type: NAME, ...}"
                + " (known: "
                + known
                + ")");
      }
      throw new IllegalArgumentException(
          origin
              + ": unknown "
              + c.what()
              + " type '"
              + e.getTypeId()
              + "' at '"
              + path(e)
              + "' (known: "
              + known
              + ")");
    } catch (ValueInstantiationException e) {
      // a record's own range check (e.g. "loss.beta must be > 0"): its message names the key
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new IllegalArgumentException(origin + ": " + cause.getMessage());
    } catch (InvalidFormatException e) {
      throw new IllegalArgumentException(
          origin
              + ": key '"
              + path(e)
              + "': cannot read "
              + e.getValue()
              + " as "
              + describe(e.getTargetType()));
    } catch (JsonMappingException e) {
      throw new IllegalArgumentException(
          origin + ": key '" + path(e) + "': " + e.getOriginalMessage());
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(origin + ": " + e.getOriginalMessage());
    }
  }

  private static String describe(Class<?> type) {
    if (type.isEnum()) {
      List<String> names = new ArrayList<>();
      for (Object c : type.getEnumConstants()) {
        names.add(YAML.valueToTree(c).asText());
      }
      return "one of " + names;
    }
    return Number.class.isAssignableFrom(type) ? "a number" : type.getSimpleName();
  }

  private static void applyOverride(ObjectNode tree, String override) {
    int eq = override.indexOf('=');
    if (eq <= 0) {
      throw new IllegalArgumentException("--set expects key.path=value, got '" + override + "'");
    }
    String[] keys = override.substring(0, eq).trim().split("\\.");
    JsonNode value;
    try {
      value = YAML.readTree(override.substring(eq + 1));
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("--set " + override + ": value is not valid YAML");
    }
    ObjectNode node = tree;
    for (int i = 0; i < keys.length - 1; i++) {
      JsonNode child = node.get(keys[i]);
      if (child == null || !child.isObject()) {
        child = node.putObject(keys[i]);
      }
      node = (ObjectNode) child;
    }
    node.set(
        keys[keys.length - 1], value == null || value.isMissingNode() ? YAML.nullNode() : value);
  }

  private static String path(JsonMappingException e) {
    StringBuilder sb = new StringBuilder();
    for (JsonMappingException.Reference r : e.getPath()) {
      if (r.getFieldName() != null) {
        sb.append(sb.length() == 0 ? "" : ".").append(r.getFieldName());
      } else if (r.getIndex() >= 0) {
        sb.append('[').append(r.getIndex()).append(']');
      }
    }
    return sb.toString();
  }

  /** The resolved recipe (or a section of one), every default written out, as YAML. */
  public static String toYaml(Record recipe) {
    try {
      return YAML.writeValueAsString(recipe);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Flattened {@code section.key -> value} of a resolved recipe (or a section of one). */
  public static Map<String, String> flatten(Record recipe) {
    Map<String, String> out = new LinkedHashMap<>();
    flatten("", YAML.valueToTree(recipe), out);
    return out;
  }

  private static void flatten(String prefix, JsonNode node, Map<String, String> out) {
    if (node.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        flatten(prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey(), e.getValue(), out);
      }
    } else {
      out.put(prefix, node.isNull() ? "null" : node.isTextual() ? node.asText() : node.toString());
    }
  }

  /**
   * Keys whose values differ between the recipe a checkpoint was written with and the one given
   * now, split into those that may change on resume and those that may not.
   */
  public record Diff(List<String> allowed, List<String> refused) {}

  public static Diff diff(Recipe saved, Recipe now) {
    Map<String, String> a = flatten(saved);
    Map<String, String> b = flatten(now);
    TreeSet<String> keys = new TreeSet<>(a.keySet());
    keys.addAll(b.keySet());
    List<String> allowed = new ArrayList<>();
    List<String> refused = new ArrayList<>();
    for (String k : keys) {
      String x = a.getOrDefault(k, "null");
      String y = b.getOrDefault(k, "null");
      if (!x.equals(y)) {
        String line = k + ": " + x + " -> " + y;
        boolean mutable =
            MUTABLE.stream().anyMatch(m -> m.endsWith(".") ? k.startsWith(m) : k.equals(m));
        (mutable ? allowed : refused).add(line);
      }
    }
    return new Diff(allowed, refused);
  }
}
