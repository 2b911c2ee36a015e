package ai.tilt.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A split's files in a dataset repository laid out as on the hub (a snapshot in the hub cache, or a
 * downloaded or cloned repository), found as {@code datasets.load_dataset} finds them
 * (datasets/data_files.py):
 *
 * <ol>
 *   <li>the {@code configs:} of the README's YAML header: the config named {@code data.config} (or
 *       the one marked {@code default}, or the only one), its {@code data_files} for the split
 *       (glob patterns such as {@code data/train-*}), or its {@code data_dir};
 *   <li>else, under {@code <config>/} when a config is named (the {@code refs/convert/parquet}
 *       layout, {@code <config>/<split>/0000.parquet}): {@code push_to_hub}'s shards {@code
 *       data/<split>-00000-of-00001.parquet}; else a folder named for the split ({@code train/},
 *       {@code partial-train/}, {@code dev/} for validation); else a file named for it ({@code
 *       train.parquet}, {@code my-test-data.jsonl}); else, for {@code train}, every data file.
 * </ol>
 */
final class HubLayout {
  private static final String SEP = "[-._ 0-9]";
  private static final Pattern SHARD =
      Pattern.compile("data/(\\w+)-[0-9]{5}-of-[0-9]{5}[^/]*\\.[^/]*");
  private static final Map<String, List<String>> KEYWORDS =
      Map.of(
          "train", List.of("train", "training"),
          "validation", List.of("validation", "valid", "dev", "val"),
          "test", List.of("test", "testing", "eval", "evaluation"));

  private HubLayout() {}

  static DataFiles files(Path root, DataSpec spec) throws IOException {
    List<Path> all = DataFiles.dataFiles(root);
    JsonNode configs = readmeConfigs(root);
    String what = spec.name() + (spec.config() == null ? "" : " config " + spec.config());
    List<Path> chosen;
    if (configs != null && configs.isArray() && !configs.isEmpty()) {
      JsonNode config = pickConfig(configs, spec);
      if (config.has("data_files")) {
        chosen = fromConfig(config.get("data_files"), all, spec);
      } else {
        String dir = config.path("data_dir").asText("");
        chosen = byDefaultPatterns(under(all, dir), spec.split(), dir);
      }
    } else if (spec.config() != null) {
      List<Path> inConfig = under(all, spec.config());
      if (inConfig.isEmpty()) {
        throw miss(root, spec, "no README configs and no folder named " + spec.config(), all);
      }
      chosen = byDefaultPatterns(inConfig, spec.split(), spec.config());
    } else {
      chosen = byDefaultPatterns(all, spec.split(), "");
    }
    if (chosen == null || chosen.isEmpty()) {
      throw miss(root, spec, "no files for the split", all);
    }
    return DataFiles.of(root, chosen, what);
  }

  /** The README's {@code configs}, or null when it has none. */
  private static JsonNode readmeConfigs(Path root) throws IOException {
    Path readme = root.resolve("README.md");
    if (!Files.isRegularFile(readme)) {
      return null;
    }
    String text = Files.readString(readme);
    Matcher m = Pattern.compile("\\A---\\R(.*?)\\R---", Pattern.DOTALL).matcher(text);
    if (!m.find()) {
      return null;
    }
    try {
      return new ObjectMapper(new YAMLFactory()).readTree(m.group(1)).get("configs");
    } catch (IOException e) {
      throw new DataException(readme + ": its YAML header does not parse: " + e.getMessage());
    }
  }

  private static JsonNode pickConfig(JsonNode configs, DataSpec spec) {
    List<String> names = new ArrayList<>();
    JsonNode byDefault = null;
    for (JsonNode c : configs) {
      String name = c.path("config_name").asText("default");
      names.add(name);
      if (name.equals(spec.config())) {
        return c;
      }
      if (c.path("default").asBoolean(false) || (byDefault == null && name.equals("default"))) {
        byDefault = c;
      }
    }
    if (spec.config() == null && byDefault != null) {
      return byDefault;
    }
    if (spec.config() == null && configs.size() == 1) {
      return configs.get(0);
    }
    throw new DataException(
        spec.name()
            + ": "
            + (spec.config() == null ? "no default config" : "no config '" + spec.config() + "'")
            + "; its README names the configs "
            + names
            + " (set data.config)");
  }

  /** {@code data_files}: a pattern, a list of them (the train split), or per-split entries. */
  private static List<Path> fromConfig(JsonNode dataFiles, List<Path> all, DataSpec spec) {
    Map<String, List<String>> bySplit = new LinkedHashMap<>();
    if (dataFiles.isTextual()) {
      bySplit.put("train", List.of(dataFiles.asText()));
    } else {
      for (JsonNode e : dataFiles) {
        String split = e.isTextual() ? "train" : e.path("split").asText("train");
        JsonNode path = e.isTextual() ? e : e.path("path");
        List<String> patterns = bySplit.computeIfAbsent(split, k -> new ArrayList<>());
        if (path.isArray()) {
          path.forEach(p -> patterns.add(p.asText()));
        } else {
          patterns.add(path.asText());
        }
      }
    }
    List<String> patterns = bySplit.get(spec.split());
    if (patterns == null) {
      throw new DataException(
          spec.describe() + ": no such split; the README's config has " + bySplit.keySet());
    }
    List<Path> out = new ArrayList<>();
    for (String p : patterns) {
      PathMatcher glob = FileSystems.getDefault().getPathMatcher("glob:" + p);
      for (Path f : all) {
        if (glob.matches(f) && !out.contains(f)) {
          out.add(f);
        }
      }
    }
    return out;
  }

  /** datasets' default patterns, the first kind that finds any file deciding (see the class). */
  private static List<Path> byDefaultPatterns(List<Path> files, String split, String base) {
    Map<String, List<Path>> shards = new LinkedHashMap<>();
    for (Path f : files) {
      Matcher m = SHARD.matcher(relative(f, base));
      if (m.matches()) {
        shards.computeIfAbsent(m.group(1), k -> new ArrayList<>()).add(f);
      }
    }
    if (!shards.isEmpty()) {
      return shards.get(split);
    }
    List<String> keywords = KEYWORDS.getOrDefault(split, List.of(split));
    for (boolean inDirName : new boolean[] {true, false}) {
      boolean anySplit = false;
      List<Path> out = new ArrayList<>();
      for (Path f : files) {
        Path rel = Path.of(relative(f, base));
        for (String s : KEYWORDS.keySet()) {
          if (named(rel, KEYWORDS.get(s), inDirName)) {
            anySplit = true;
          }
        }
        if (named(rel, keywords, inDirName)) {
          anySplit = true;
          out.add(f);
        }
      }
      if (anySplit) {
        return out;
      }
    }
    return split.equals("train") ? files : List.of();
  }

  /** A folder of the path (inDirName) or its file name reads as one of the keywords. */
  private static boolean named(Path rel, List<String> keywords, boolean inDirName) {
    int dirs = rel.getNameCount() - 1;
    for (int i = inDirName ? 0 : dirs; i < (inDirName ? dirs : dirs + 1); i++) {
      String part = rel.getName(i).toString();
      for (String k : keywords) {
        String kw = Pattern.quote(k);
        String regex =
            inDirName
                ? "(.*" + SEP + ")?" + kw + "(" + SEP + ".*)?"
                : "(.*" + SEP + ")?" + kw + SEP + ".*";
        if (part.matches(regex)) {
          return true;
        }
      }
    }
    return false;
  }

  private static List<Path> under(List<Path> files, String dir) {
    if (dir.isEmpty()) {
      return files;
    }
    Path d = Path.of(dir);
    return files.stream().filter(f -> f.startsWith(d)).toList();
  }

  private static String relative(Path f, String base) {
    return base.isEmpty() ? f.toString() : Path.of(base).relativize(f).toString();
  }

  private static DataException miss(Path root, DataSpec spec, String why, List<Path> all) {
    List<String> seen = all.stream().limit(20).map(Path::toString).toList();
    return new DataException(
        spec.describe()
            + ": "
            + why
            + " in "
            + root
            + "; data files seen: "
            + (seen.isEmpty() ? "none" : String.join(", ", seen))
            + (all.size() > seen.size() ? " and " + (all.size() - seen.size()) + " more" : ""));
  }
}
