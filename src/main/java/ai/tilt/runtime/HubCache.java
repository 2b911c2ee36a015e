package ai.tilt.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Models and datasets named as on the HuggingFace hub ({@code Qwen/Qwen2.5-0.5B}), found in the
 * hub's local cache exactly where {@code huggingface_hub} (and so transformers and datasets) puts
 * them, with no network: {@code <cache>/models--Qwen--Qwen2.5-0.5B/snapshots/<commit>/}, the commit
 * read from {@code refs/<branch or tag>} or named directly.
 *
 * <p>The cache directory is the one {@code huggingface_hub} uses: {@code HF_HUB_CACHE}, else the
 * legacy {@code HUGGINGFACE_HUB_CACHE}, else {@code $HF_HOME/hub}, else {@code
 * $XDG_CACHE_HOME/huggingface/hub}, else {@code ~/.cache/huggingface/hub}; for models also
 * transformers' legacy {@code TRANSFORMERS_CACHE}. Every one that is set is searched, in that
 * order, and a miss names each place it looked and the command that fills the cache on a connected
 * machine. The system property {@code tilt.hf_hub_cache} comes before all of them (embedding,
 * tests).
 */
public final class HubCache {
  /** The system property that names a cache directory before the environment's. */
  public static final String CACHE_PROPERTY = "tilt.hf_hub_cache";

  /** What the hub stores: the prefix of its cache folders and the CLI's --repo-type. */
  public enum RepoType {
    MODEL("models", ""),
    DATASET("datasets", " --repo-type dataset");

    private final String folderPrefix;
    private final String cliFlag;

    RepoType(String folderPrefix, String cliFlag) {
      this.folderPrefix = folderPrefix;
      this.cliFlag = cliFlag;
    }

    String word() {
      return this == MODEL ? "model" : "dataset";
    }
  }

  /** "name" or "org/name", in the hub's alphabet; nothing that only a file path would contain. */
  private static final Pattern REPO_ID =
      Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?");

  private static final Pattern COMMIT = Pattern.compile("[0-9a-f]{40}");

  private HubCache() {}

  /**
   * A local directory or file as given, if it exists or cannot be a hub name; else its snapshot in
   * the cache at {@code revision} (null: {@code main}). A miss names every place looked.
   */
  public static Path resolve(RepoType type, String pathOrId, String revision) throws IOException {
    return resolve(type, pathOrId, revision, System::getenv);
  }

  static Path resolve(RepoType type, String pathOrId, String revision, UnaryOperator<String> env)
      throws IOException {
    Path local = Path.of(pathOrId);
    if (Files.exists(local) || !isRepoId(pathOrId)) {
      return local; // what cannot be a hub name is a path: its reader says what is missing
    }
    try {
      return snapshot(type, pathOrId, revision, env);
    } catch (IOException e) {
      throw new IOException(
          "no such directory "
              + local.toAbsolutePath()
              + ", and "
              + Character.toLowerCase(e.getMessage().charAt(0))
              + e.getMessage().substring(1),
          e);
    }
  }

  /** True when {@code s} can be a hub name ({@code gpt2}, {@code Qwen/Qwen2.5-0.5B}). */
  public static boolean isRepoId(String s) {
    return REPO_ID.matcher(s).matches() && !s.contains("--") && !s.contains("..");
  }

  /**
   * The snapshot directory of {@code repoId} at {@code revision} (a branch, a tag or a commit;
   * null: {@code main}) in the first cache that has it, or an IOException naming every place looked
   * and the command that would fill the cache.
   */
  public static Path snapshot(RepoType type, String repoId, String revision) throws IOException {
    return snapshot(type, repoId, revision, System::getenv);
  }

  static Path snapshot(RepoType type, String repoId, String revision, UnaryOperator<String> env)
      throws IOException {
    String rev = revision == null || revision.isBlank() ? "main" : revision;
    String folder = type.folderPrefix + "--" + repoId.replace("/", "--");
    List<String> looked = new ArrayList<>();
    for (Path cache : caches(type, env)) {
      Path repo = cache.resolve(folder);
      if (!Files.isDirectory(repo)) {
        looked.add(repo + " (no such directory)");
        continue;
      }
      String commit = commitOf(repo, rev);
      if (commit == null) {
        looked.add(repo + " (no refs/" + rev + ", and no snapshot named " + rev + ")");
        continue;
      }
      Path snap = repo.resolve("snapshots").resolve(commit);
      if (!Files.isDirectory(snap)) {
        looked.add(
            snap
                + (commit.equals(rev)
                    ? " (no snapshot of that commit)"
                    : " (refs/" + rev + " names it, but it is missing)"));
        continue;
      }
      return snap;
    }
    throw new IOException(
        type.word()
            + " '"
            + repoId
            + "' (revision "
            + rev
            + ") is not in the HuggingFace hub cache; looked in: "
            + String.join("; ", looked)
            + ". On a machine with network, `hf download "
            + repoId
            + type.cliFlag
            + " --revision "
            + rev
            + "` (or huggingface-cli download) fills ~/.cache/huggingface/hub: copy that here or"
            + " point HF_HUB_CACHE at it; or give a local directory");
  }

  /** The commit {@code rev} names in {@code repo}: a ref's content, or a snapshot's own name. */
  private static String commitOf(Path repo, String rev) throws IOException {
    Path ref = repo.resolve("refs").resolve(rev);
    if (Files.isRegularFile(ref)) {
      return Files.readString(ref).trim();
    }
    Path snapshots = repo.resolve("snapshots");
    if (COMMIT.matcher(rev).matches() || Files.isDirectory(snapshots.resolve(rev))) {
      return rev;
    }
    if (!Files.isDirectory(snapshots)) {
      return null;
    }
    List<String> names;
    try (Stream<Path> s = Files.list(snapshots)) {
      names = s.map(p -> p.getFileName().toString()).toList();
    }
    // a short commit, as `git log --oneline` shows it, if exactly one snapshot starts with it
    if (rev.length() >= 7 && rev.matches("[0-9a-f]+")) {
      List<String> hits = names.stream().filter(n -> n.startsWith(rev)).toList();
      return hits.size() == 1 ? hits.get(0) : null;
    }
    // files fetched by commit (datasets' data files, a pinned download) leave no refs/main: the
    // one snapshot there is what the default revision can only mean
    return rev.equals("main") && names.size() == 1 ? names.get(0) : null;
  }

  /** The caches to search, in order, without repeats. */
  static List<Path> caches(RepoType type, UnaryOperator<String> env) {
    Set<Path> out = new LinkedHashSet<>();
    String property = System.getProperty(CACHE_PROPERTY);
    if (property != null && !property.isBlank()) {
      out.add(Path.of(property));
    }
    for (String var : List.of("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")) {
      add(out, env.apply(var), env);
    }
    String home = env.apply("HF_HOME");
    if (home != null && !home.isBlank()) {
      out.add(hfHome(env).resolve("hub"));
    }
    if (type == RepoType.MODEL) {
      add(out, env.apply("TRANSFORMERS_CACHE"), env);
    }
    out.add(defaultHome(env).resolve("hub"));
    return List.copyOf(out);
  }

  /**
   * huggingface_hub's {@code HF_HOME}: the variable, else {@code $XDG_CACHE_HOME/huggingface}, else
   * {@code ~/.cache/huggingface}; the hub cache is its {@code hub}, datasets' its {@code datasets}.
   */
  public static Path hfHome(UnaryOperator<String> env) {
    String home = env.apply("HF_HOME");
    return home != null && !home.isBlank() ? expandUser(home, env) : defaultHome(env);
  }

  private static Path defaultHome(UnaryOperator<String> env) {
    String xdg = env.apply("XDG_CACHE_HOME");
    Path base =
        xdg != null && !xdg.isBlank() ? expandUser(xdg, env) : userHome(env).resolve(".cache");
    return base.resolve("huggingface");
  }

  private static void add(Set<Path> out, String dir, UnaryOperator<String> env) {
    if (dir != null && !dir.isBlank()) {
      out.add(expandUser(dir, env));
    }
  }

  /** A leading ~ means the user's home, as Python's expanduser reads it in huggingface_hub. */
  public static Path expandUser(String dir, UnaryOperator<String> env) {
    if (dir.equals("~") || dir.startsWith("~/")) {
      return userHome(env).resolve(dir.substring(Math.min(2, dir.length())));
    }
    return Path.of(dir);
  }

  private static Path userHome(UnaryOperator<String> env) {
    String home = env.apply("HOME");
    return Path.of(home != null && !home.isBlank() ? home : System.getProperty("user.home"));
  }

  /** An environment of exactly these variables (tests). */
  static UnaryOperator<String> env(Map<String, String> vars) {
    return vars::get;
  }
}
