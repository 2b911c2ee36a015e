package ai.tilt.data;

import ai.tilt.runtime.HubCache;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The Arrow files {@code datasets.load_dataset} prepares, found by the dataset's name when the hub
 * cache has no snapshot of it: {@code <cache>/<org>___<name>/<config>/<version>/<hash>/
 * <name>-<split>[-NNNNN-of-NNNNN].arrow} (datasets' builder and naming modules), the cache being
 * {@code HF_DATASETS_CACHE}, else {@code $HF_HOME/datasets}, else {@code
 * ~/.cache/huggingface/datasets}. Of several prepared copies (versions, hashes), the newest.
 */
final class DatasetsCache {
  private DatasetsCache() {}

  /** The split's Arrow files, or null when no prepared copy holds it; {@code looked} says where. */
  static DataFiles find(DataSpec spec, UnaryOperator<String> env, List<String> looked)
      throws IOException {
    String id = spec.name();
    int slash = id.indexOf('/');
    String name = slash < 0 ? id : id.substring(slash + 1);
    String folder = slash < 0 ? snake(name) : id.substring(0, slash) + "___" + snake(name);
    Pattern file =
        Pattern.compile(
            Pattern.quote(snake(name))
                + "-"
                + Pattern.quote(spec.split())
                + "(-\\d{5}-of-\\d{5})?\\.arrow");
    Path root = cache(env).resolve(folder);
    if (!Files.isDirectory(root)) {
      looked.add(root + " (no such directory)");
      return null;
    }
    Path best = null;
    FileTime newest = null;
    try (Stream<Path> dirs = Files.walk(root, 3)) {
      for (Path d : dirs.filter(Files::isDirectory).toList()) {
        int depth = root.relativize(d).getNameCount();
        if (depth != 3
            || (spec.config() != null && !d.getParent().getParent().endsWith(spec.config()))) {
          continue;
        }
        FileTime t = Files.getLastModifiedTime(d);
        if (!splitFiles(d, file).isEmpty() && (newest == null || t.compareTo(newest) > 0)) {
          best = d;
          newest = t;
        }
      }
    }
    if (best == null) {
      looked.add(
          root
              + " (no prepared "
              + spec.split()
              + " split"
              + (spec.config() == null ? "" : " of config " + spec.config())
              + ")");
      return null;
    }
    return new DataFiles(DataFiles.Format.ARROW, splitFiles(best, file));
  }

  private static List<Path> splitFiles(Path dir, Pattern file) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      List<Path> out =
          new ArrayList<>(
              s.filter(p -> file.matcher(p.getFileName().toString()).matches()).toList());
      out.sort(Comparator.comparing(p -> p.getFileName().toString()));
      return out;
    }
  }

  /** datasets' camelcase_to_snakecase. */
  static String snake(String name) {
    String s = name.replaceAll("([A-Z]+)([A-Z][a-z])", "$1_$2");
    s = s.replaceAll("([a-z\\d])([A-Z])", "$1_$2");
    return s.toLowerCase(Locale.ROOT);
  }

  static Path cache(UnaryOperator<String> env) {
    String explicit = env.apply("HF_DATASETS_CACHE");
    return explicit != null && !explicit.isBlank()
        ? HubCache.expandUser(explicit, env)
        : HubCache.hfHome(env).resolve("datasets");
  }
}
