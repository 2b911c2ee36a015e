package ai.tilt.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.runtime.HubCache.RepoType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The hub cache's layout as huggingface_hub writes it, in a temporary directory. */
class HubCacheTest {
  private static final String MAIN = "a".repeat(40);
  private static final String TAGGED = "b1c2d3e4f5" + "0".repeat(30);

  @TempDir Path tmp;

  /**
   * models--org--name with refs/main, refs/v1.0 and their snapshots, as `hf download` leaves it.
   */
  private Path fakeRepo(Path cache, String folder) throws IOException {
    Path repo = cache.resolve(folder);
    Files.createDirectories(repo.resolve("refs"));
    Files.writeString(repo.resolve("refs/main"), MAIN); // no newline, as huggingface_hub writes it
    Files.writeString(repo.resolve("refs/v1.0"), TAGGED + "\n");
    Files.createDirectories(repo.resolve("snapshots").resolve(MAIN));
    Files.createDirectories(repo.resolve("snapshots").resolve(TAGGED));
    Files.createDirectories(repo.resolve("blobs"));
    return repo;
  }

  private static UnaryOperator<String> env(String... kv) {
    Map<String, String> m = new java.util.HashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put(kv[i], kv[i + 1]);
    }
    return HubCache.env(m);
  }

  @Test
  void branchTagAndCommitsResolveToTheirSnapshots() throws IOException {
    Path cache = tmp.resolve("hub");
    Path repo = fakeRepo(cache, "models--Qwen--Qwen2.5-0.5B");
    UnaryOperator<String> e = env("HF_HUB_CACHE", cache.toString(), "HOME", tmp.toString());
    Path snaps = repo.resolve("snapshots");
    assertEquals(
        snaps.resolve(MAIN), HubCache.snapshot(RepoType.MODEL, "Qwen/Qwen2.5-0.5B", null, e));
    assertEquals(
        snaps.resolve(MAIN), HubCache.snapshot(RepoType.MODEL, "Qwen/Qwen2.5-0.5B", "main", e));
    assertEquals(
        snaps.resolve(TAGGED), HubCache.snapshot(RepoType.MODEL, "Qwen/Qwen2.5-0.5B", "v1.0", e));
    assertEquals(
        snaps.resolve(TAGGED), HubCache.snapshot(RepoType.MODEL, "Qwen/Qwen2.5-0.5B", TAGGED, e));
    // a short commit when exactly one snapshot starts with it; an ambiguous or unknown one misses
    assertEquals(
        snaps.resolve(TAGGED),
        HubCache.snapshot(RepoType.MODEL, "Qwen/Qwen2.5-0.5B", "b1c2d3e", e));
    assertThrows(
        IOException.class,
        () -> HubCache.snapshot(RepoType.MODEL, "Qwen/Qwen2.5-0.5B", "ccccccc", e));
  }

  @Test
  void theCacheIsFoundWhereHuggingfaceHubLooks() throws IOException {
    // HF_HOME/hub
    Path home = tmp.resolve("hfhome");
    fakeRepo(home.resolve("hub"), "models--gpt2");
    assertEquals(
        home.resolve("hub/models--gpt2/snapshots").resolve(MAIN),
        HubCache.snapshot(
            RepoType.MODEL, "gpt2", null, env("HF_HOME", home.toString(), "HOME", "/nonexistent")));
    // XDG_CACHE_HOME/huggingface/hub
    Path xdg = tmp.resolve("xdg");
    fakeRepo(xdg.resolve("huggingface/hub"), "datasets--trl-lib--ultrafeedback_binarized");
    assertTrue(
        Files.isDirectory(
            HubCache.snapshot(
                RepoType.DATASET,
                "trl-lib/ultrafeedback_binarized",
                null,
                env("XDG_CACHE_HOME", xdg.toString(), "HOME", "/nonexistent"))));
    // ~/.cache/huggingface/hub, and a leading ~ in HF_HOME
    Path user = tmp.resolve("user");
    fakeRepo(user.resolve(".cache/huggingface/hub"), "models--org--m");
    assertTrue(
        Files.isDirectory(
            HubCache.snapshot(RepoType.MODEL, "org/m", null, env("HOME", user.toString()))));
    fakeRepo(user.resolve("elsewhere/hub"), "models--org--n");
    assertTrue(
        Files.isDirectory(
            HubCache.snapshot(
                RepoType.MODEL,
                "org/n",
                null,
                env("HOME", user.toString(), "HF_HOME", "~/elsewhere"))));
    // the datasets' folder is not the models' one
    assertThrows(
        IOException.class,
        () -> HubCache.snapshot(RepoType.DATASET, "org/m", null, env("HOME", user.toString())));
  }

  @Test
  void aMissNamesEveryPlaceLookedAndTheCommandThatFillsTheCache() {
    UnaryOperator<String> e =
        env(
            "HF_HUB_CACHE",
            tmp.resolve("a").toString(),
            "HF_HOME",
            tmp.resolve("b").toString(),
            "HOME",
            tmp.toString());
    IOException m =
        assertThrows(
            IOException.class,
            () -> HubCache.snapshot(RepoType.DATASET, "trl-lib/ultrafeedback_binarized", "v2", e));
    String msg = m.getMessage();
    for (String place :
        List.of(
            tmp.resolve("a/datasets--trl-lib--ultrafeedback_binarized").toString(),
            tmp.resolve("b/hub/datasets--trl-lib--ultrafeedback_binarized").toString(),
            tmp.resolve(".cache/huggingface/hub/datasets--trl-lib--ultrafeedback_binarized")
                .toString())) {
      assertTrue(msg.contains(place), () -> place + " not in: " + msg);
    }
    assertTrue(msg.contains("revision v2"), msg);
    assertTrue(
        msg.contains(
            "hf download trl-lib/ultrafeedback_binarized --repo-type dataset --revision v2"),
        msg);
  }

  @Test
  void aRefToAMissingSnapshotOrAnUnknownBranchSaysSo() throws IOException {
    Path cache = tmp.resolve("hub");
    Path repo = fakeRepo(cache, "models--org--m");
    Files.writeString(repo.resolve("refs/dev"), "d".repeat(40));
    UnaryOperator<String> e = env("HF_HUB_CACHE", cache.toString(), "HOME", tmp.toString());
    IOException gone =
        assertThrows(IOException.class, () -> HubCache.snapshot(RepoType.MODEL, "org/m", "dev", e));
    assertTrue(
        gone.getMessage().contains("refs/dev names it, but it is missing"), gone.getMessage());
    IOException unknown =
        assertThrows(
            IOException.class, () -> HubCache.snapshot(RepoType.MODEL, "org/m", "nope", e));
    assertTrue(unknown.getMessage().contains("no refs/nope"), unknown.getMessage());
    String other = "e".repeat(40);
    IOException commit =
        assertThrows(IOException.class, () -> HubCache.snapshot(RepoType.MODEL, "org/m", other, e));
    assertTrue(
        commit.getMessage().contains(other + " (no snapshot of that commit)"), commit.getMessage());
  }

  @Test
  void withoutRefsMainTheOnlySnapshotIsMainAndTwoAreAMiss() throws IOException {
    Path cache = tmp.resolve("hub");
    Path repo = cache.resolve("datasets--org--d");
    Files.createDirectories(repo.resolve("snapshots").resolve(MAIN)); // fetched by commit: no refs
    UnaryOperator<String> e = env("HF_HUB_CACHE", cache.toString(), "HOME", tmp.toString());
    assertEquals(
        repo.resolve("snapshots").resolve(MAIN),
        HubCache.snapshot(RepoType.DATASET, "org/d", null, e));
    assertThrows(IOException.class, () -> HubCache.snapshot(RepoType.DATASET, "org/d", "dev", e));
    Files.createDirectories(repo.resolve("snapshots").resolve(TAGGED));
    IOException two =
        assertThrows(
            IOException.class, () -> HubCache.snapshot(RepoType.DATASET, "org/d", null, e));
    assertTrue(two.getMessage().contains("no refs/main"), two.getMessage());
  }

  @Test
  void aLocalPathWinsAndWhatCannotBeANameIsAMissingDirectory() throws IOException {
    Path cache = tmp.resolve("hub");
    fakeRepo(cache, "models--org--m");
    UnaryOperator<String> e = env("HF_HUB_CACHE", cache.toString(), "HOME", tmp.toString());
    Path local = Files.createDirectories(tmp.resolve("org/m"));
    assertEquals(local, HubCache.resolve(RepoType.MODEL, local.toString(), null, e));
    assertEquals(
        cache.resolve("models--org--m/snapshots").resolve(MAIN),
        HubCache.resolve(RepoType.MODEL, "org/m", null, e));
    // what cannot be a hub name stays a path, for its reader to say what is missing
    assertEquals(
        Path.of("/no/such/dir"), HubCache.resolve(RepoType.MODEL, "/no/such/dir", null, e));
    IOException miss =
        assertThrows(IOException.class, () -> HubCache.resolve(RepoType.MODEL, "org/x", null, e));
    assertTrue(miss.getMessage().startsWith("no such directory "), miss.getMessage());
    assertTrue(
        miss.getMessage()
            .contains("model 'org/x' (revision main) is not in the HuggingFace hub cache"));
    assertTrue(HubCache.isRepoId("Qwen/Qwen2.5-0.5B"));
    assertTrue(HubCache.isRepoId("gpt2"));
    assertFalse(HubCache.isRepoId("./gpt2"));
    assertFalse(HubCache.isRepoId("a/b/c"));
    assertFalse(HubCache.isRepoId("../x"));
    assertFalse(HubCache.isRepoId("models--org--m"));
  }
}
