package ai.tilt.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Arrow files load_dataset prepared, laid out as datasets' builder writes them. */
class DatasetsCacheTest {
  @TempDir Path tmp;

  @Test
  void theNewestPreparedCopyOfTheSplitIsRead() throws Exception {
    Path fixtures =
        Path.of(DatasetsCacheTest.class.getResource("/data/saved_dict_train.jsonl").toURI())
            .getParent();
    Path arrow = fixtures.resolve("saved_dict/train/data-00000-of-00001.arrow");
    Path root = tmp.resolve("datasets/trl-lib___ultra_feedback");
    Path old = Files.createDirectories(root.resolve("default/0.0.0/aaaa"));
    Path fresh = Files.createDirectories(root.resolve("default/0.0.0/bbbb"));
    Path other = Files.createDirectories(root.resolve("other/0.0.0/cccc"));
    for (Path d : List.of(old, fresh, other)) {
      Files.copy(arrow, d.resolve("ultra_feedback-train.arrow"));
      Files.writeString(d.resolve("dataset_info.json"), "{}");
    }
    Files.setLastModifiedTime(old, FileTime.fromMillis(1_000));
    Files.setLastModifiedTime(fresh, FileTime.fromMillis(2_000));
    Files.setLastModifiedTime(other, FileTime.fromMillis(3_000));
    UnaryOperator<String> env =
        Map.of("HF_DATASETS_CACHE", tmp.resolve("datasets").toString())::get;
    // the hub name's last part, CamelCase as datasets snake-cases it
    DataSpec spec = new DataSpec("trl-lib/UltraFeedback", "train", "default", null, null);
    DataFiles found = DatasetsCache.find(spec, env, new ArrayList<>());
    assertEquals(List.of(fresh.resolve("ultra_feedback-train.arrow")), found.files());
    assertEquals(
        DataFormatsTest.rows(DataSpec.of(fixtures.resolve("saved_dict_train.jsonl"))),
        DataFormatsTest.rows(DataSpec.of(found.files().get(0))));
    // without a config, the newest of any
    DataSpec any = new DataSpec("trl-lib/UltraFeedback", "train", null, null, null);
    assertEquals(other, DatasetsCache.find(any, env, new ArrayList<>()).files().get(0).getParent());
    // a split nobody prepared, and a dataset nobody loaded, say where they were looked for
    List<String> looked = new ArrayList<>();
    assertNull(
        DatasetsCache.find(
            new DataSpec("trl-lib/UltraFeedback", "test", null, null, null), env, looked));
    assertTrue(looked.get(0).contains("no prepared test split"), looked.toString());
    looked.clear();
    assertNull(
        DatasetsCache.find(new DataSpec("org/none", "train", null, null, null), env, looked));
    assertTrue(looked.get(0).endsWith("org___none (no such directory)"), looked.toString());
    assertEquals("ultra_feedback", DatasetsCache.snake("UltraFeedback"));
    assertEquals("gsm8k", DatasetsCache.snake("gsm8k"));
  }
}
