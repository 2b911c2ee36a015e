package ai.tilt.data;

import java.nio.file.Path;
import java.util.Map;

/**
 * Which data set a recipe names and how to read it, as TRL's {@code load_dataset(name, config,
 * split=...)} plus its column renames.
 *
 * @param name a {@code .jsonl} file, a {@code .parquet} or {@code .arrow} file, a folder (of
 *     Parquet shards, a {@code save_to_disk} Dataset or DatasetDict, or a dataset repository laid
 *     out as on the hub), or a hub dataset name ({@code org/name}) looked up in the local hub cache
 * @param split the split of a DatasetDict or of a hub-layout folder ({@code train}, {@code test})
 * @param config the dataset's config (subset) name, or null for its default
 * @param revision the hub revision (branch, tag or commit), or null for {@code main}
 * @param columns TRL's column name to the file's ({@code {prompt: question}})
 */
public record DataSpec(
    String name, String split, String config, String revision, Map<String, String> columns) {
  public DataSpec {
    if (name == null || name.isBlank()) {
      throw new IllegalArgumentException("a data set needs a file, folder or dataset name");
    }
    split = split == null ? "train" : split;
    columns = columns == null ? Map.of() : Map.copyOf(columns);
  }

  /** One local file or folder, its default split, no renames. */
  public static DataSpec of(Path file) {
    return new DataSpec(file.toString(), null, null, null, null);
  }

  /** How messages name this data set: its name, with the split when a folder or name has splits. */
  public String describe() {
    return name + (config == null ? "" : " (config " + config + ")") + ", split " + split;
  }
}
