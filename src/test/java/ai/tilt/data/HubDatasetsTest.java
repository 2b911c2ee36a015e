package ai.tilt.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.runtime.HubCache;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Dataset names found in a fake hub cache (the layout huggingface_hub writes: {@code
 * datasets--org--name/refs/main} naming {@code snapshots/<commit>/}), and splits found in a
 * snapshot as datasets.load_dataset finds them.
 */
class HubDatasetsTest {
  static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
  static final Path DATA = DataFormatsTest.DATA;
  static final String README =
      "---\n"
          + "dataset_info:\n"
          + "  features:\n"
          + "  - name: prompt\n"
          + "    dtype: string\n"
          + "configs:\n"
          + "- config_name: default\n"
          + "  data_files:\n"
          + "  - split: train\n"
          + "    path: data/train-*\n"
          + "  - split: test\n"
          + "    path: data/test-*\n"
          + "- config_name: chat\n"
          + "  data_files: chat/*.parquet\n"
          + "---\n"
          + "# A dataset card\n";

  @TempDir Path cache;

  @BeforeEach
  void pointAtCache() {
    System.setProperty(HubCache.CACHE_PROPERTY, cache.toString());
  }

  @AfterEach
  void clear() {
    System.clearProperty(HubCache.CACHE_PROPERTY);
  }

  /**
   * A snapshot of {@code org/name} at main holding the given files (name, then fixture or README
   * text).
   */
  Path snapshot(String repo, String... files) throws IOException {
    Path dir = cache.resolve("datasets--" + repo.replace("/", "--"));
    Files.createDirectories(dir.resolve("refs"));
    Files.writeString(dir.resolve("refs/main"), COMMIT);
    Path snap = dir.resolve("snapshots").resolve(COMMIT);
    for (int i = 0; i < files.length; i += 2) {
      Path f = snap.resolve(files[i]);
      Files.createDirectories(f.getParent());
      // as huggingface_hub stores them: the snapshot's files are links to blobs/<hash>
      Path blob = dir.resolve("blobs").resolve("blob" + i);
      Files.createDirectories(blob.getParent());
      if (files[i + 1].startsWith("---")) {
        Files.writeString(blob, files[i + 1]);
      } else {
        Files.copy(DATA.resolve(files[i + 1]), blob);
      }
      Files.createSymbolicLink(f, f.getParent().relativize(blob));
    }
    return snap;
  }

  static List<String> rows(String name, String split, String config) throws IOException {
    return DataFormatsTest.rows(new DataSpec(name, split, config, null, null));
  }

  static List<String> twin(String jsonl) throws IOException {
    return DataFormatsTest.rows(DataFormatsTest.spec(jsonl));
  }

  @Test
  void theReadmeConfigsNameEachSplitsFiles() throws IOException {
    snapshot(
        "trl-lib/ultrafeedback_binarized",
        "README.md",
        README,
        "data/train-00000-of-00002.parquet",
        "shards/part-00000.parquet",
        "data/train-00001-of-00002.parquet",
        "shards/part-00001.parquet",
        "data/test-00000-of-00001.parquet",
        "pref_conversational.parquet",
        "chat/0.parquet",
        "sft_messages.parquet");
    assertEquals(twin("shards.jsonl"), rows("trl-lib/ultrafeedback_binarized", "train", null));
    assertEquals(
        twin("pref_conversational.jsonl"), rows("trl-lib/ultrafeedback_binarized", "test", null));
    assertEquals(
        twin("sft_messages.jsonl"), rows("trl-lib/ultrafeedback_binarized", "train", "chat"));
    DataException noSplit =
        assertThrows(
            DataException.class, () -> rows("trl-lib/ultrafeedback_binarized", "validation", null));
    assertEquals(
        "trl-lib/ultrafeedback_binarized, split validation: no such split; the README's config"
            + " has [train, test]",
        noSplit.getMessage());
    DataException noConfig =
        assertThrows(
            DataException.class, () -> rows("trl-lib/ultrafeedback_binarized", "train", "fr"));
    assertEquals(
        "trl-lib/ultrafeedback_binarized: no config 'fr'; its README names the configs [default,"
            + " chat] (set data.config)",
        noConfig.getMessage());
  }

  @Test
  void pushToHubShardsWithoutAReadme() throws IOException {
    snapshot(
        "org/pairs",
        "data/train-00000-of-00001.parquet",
        "pref_standard.parquet",
        "data/test-00000-of-00001.parquet",
        "pref_conversational.parquet");
    assertEquals(twin("pref_standard.jsonl"), rows("org/pairs", "train", null));
    assertEquals(twin("pref_conversational.jsonl"), rows("org/pairs", "test", null));
  }

  @Test
  void theParquetConversionLayoutByConfig() throws IOException {
    // refs/convert/parquet: <config>/<split>/NNNN.parquet, and partial-<split> for big splits
    snapshot(
        "org/converted",
        "default/partial-train/0000.parquet",
        "pref_standard.parquet",
        "default/test/0000.parquet",
        "unpaired.parquet",
        "other/train/0000.parquet",
        "lm_text.parquet");
    assertEquals(twin("pref_standard.jsonl"), rows("org/converted", "train", "default"));
    assertEquals(twin("unpaired.jsonl"), rows("org/converted", "test", "default"));
    assertEquals(twin("lm_text.jsonl"), rows("org/converted", "train", "other"));
  }

  @Test
  void splitsNamedByFolderOrFileAsDatasetsDoes() throws IOException {
    snapshot(
        "org/named",
        "training/a.parquet",
        "pref_standard.parquet",
        "dev/a.parquet",
        "unpaired.parquet");
    assertEquals(twin("pref_standard.jsonl"), rows("org/named", "train", null));
    assertEquals(twin("unpaired.jsonl"), rows("org/named", "validation", null));
    snapshot("org/files", "my_train.jsonl", "lm_text.jsonl", "test.jsonl", "prompts.jsonl");
    assertEquals(twin("lm_text.jsonl"), rows("org/files", "train", null));
    assertEquals(twin("prompts.jsonl"), rows("org/files", "test", null));
  }

  @Test
  void aMissedSplitNamesTheDatasetConfigSplitAndFilesSeen() throws IOException {
    Path snap = snapshot("org/pairs", "data/train-00000-of-00001.parquet", "pref_standard.parquet");
    DataException e = assertThrows(DataException.class, () -> rows("org/pairs", "test", null));
    assertEquals(
        "org/pairs, split test: no files for the split in "
            + snap
            + "; data files seen: data/train-00000-of-00001.parquet",
        e.getMessage());
    DataException config =
        assertThrows(DataException.class, () -> rows("org/pairs", "train", "fr"));
    assertTrue(
        config.getMessage().startsWith("org/pairs (config fr), split train: no README configs"),
        config.getMessage());
  }

  @Test
  void aNameNotInTheCacheSaysWhereItLookedAndHowToFillIt() {
    DataException e = assertThrows(DataException.class, () -> rows("org/absent", "train", null));
    assertTrue(e.getMessage().contains("datasets--org--absent"), e.getMessage());
    assertTrue(
        e.getMessage().contains("hf download org/absent --repo-type dataset"), e.getMessage());
    DataException file =
        assertThrows(DataException.class, () -> rows("data/absent.jsonl", "train", null));
    assertEquals("no such file: data/absent.jsonl", file.getMessage());
  }

  @Test
  void aLocalFolderLaidOutAsOnTheHubReadsTheSame() throws IOException {
    Path snap =
        snapshot(
            "org/local",
            "data/train-00000-of-00001.parquet",
            "pref_standard.parquet",
            "data/test-00000-of-00001.parquet",
            "unpaired.parquet");
    assertEquals(twin("unpaired.jsonl"), rows(snap.toString(), "test", null));
  }
}
