package ai.tilt.data;

import ai.tilt.runtime.HubCache;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The files of a {@link DataSpec}, in reading order, found as TRL users keep them:
 *
 * <ol>
 *   <li>a file: {@code .parquet}, {@code .arrow}, a {@code .json} array of rows, anything else read
 *       as JSON Lines;
 *   <li>a {@code save_to_disk} DatasetDict folder ({@code dataset_dict.json}): its {@code split}
 *       subfolder, read as the next item;
 *   <li>a {@code save_to_disk} Dataset folder ({@code state.json}): its {@code data-*.arrow} files
 *       in {@code state.json}'s order;
 *   <li>any other folder, and a hub name's snapshot in the local hub cache ({@link HubCache}): the
 *       split's files as the hub lays them out ({@link HubLayout}), or, in a folder with no split
 *       names, every data file in it (Parquet shards), sorted by name.
 * </ol>
 *
 * All files of a data set have one format.
 */
record DataFiles(Format format, List<Path> files) {
  /** How a file is read, by its extension. */
  enum Format {
    JSONL,
    PARQUET,
    ARROW,
    CSV;

    static Format of(Path file) {
      String n = file.getFileName().toString().toLowerCase();
      return n.endsWith(".parquet")
          ? PARQUET
          : n.endsWith(".arrow") ? ARROW : n.endsWith(".csv") ? CSV : JSONL;
    }

    static boolean isData(Path file) {
      String n = file.getFileName().toString().toLowerCase();
      return n.endsWith(".parquet")
          || n.endsWith(".arrow")
          || n.endsWith(".jsonl")
          || n.endsWith(".csv")
          || (n.endsWith(".json") && !METADATA.contains(n));
    }

    /**
     * The JSON files of a datasets folder or hub repository that describe it rather than hold it.
     */
    private static final Set<String> METADATA =
        Set.of(
            "dataset_info.json",
            "dataset_infos.json",
            "dataset_dict.json",
            "state.json",
            "config.json",
            "croissant.json");
  }

  /**
   * Finds the files.
   *
   * @throws DataException naming the data set, split, config and what was seen when nothing fits
   */
  static DataFiles resolve(DataSpec spec) throws IOException {
    Path local = Path.of(spec.name());
    if (Files.isRegularFile(local)) {
      return new DataFiles(Format.of(local), List.of(local));
    }
    if (Files.isDirectory(local)) {
      return folder(local, spec);
    }
    if (Format.isData(local) || spec.name().endsWith(".json") || !HubCache.isRepoId(spec.name())) {
      throw new DataException("no such file: " + spec.name());
    }
    Path snapshot;
    try {
      snapshot = HubCache.snapshot(HubCache.RepoType.DATASET, spec.name(), spec.revision());
    } catch (IOException e) {
      // what load_dataset prepared, when the hub cache was cleaned or never held the files
      List<String> looked = new ArrayList<>();
      DataFiles prepared =
          spec.revision() == null ? DatasetsCache.find(spec, System::getenv, looked) : null;
      if (prepared != null) {
        return prepared;
      }
      throw new DataException(
          "no such file or folder "
              + local.toAbsolutePath()
              + ", and "
              + e.getMessage()
              + (looked.isEmpty()
                  ? ""
                  : "; nor in datasets' own cache: " + String.join("; ", looked)));
    }
    return HubLayout.files(snapshot, spec);
  }

  private static DataFiles folder(Path dir, DataSpec spec) throws IOException {
    Path dict = dir.resolve("dataset_dict.json");
    if (Files.isRegularFile(dict)) {
      List<String> splits = new ArrayList<>();
      for (JsonNode s : Jsonl.mapper().readTree(dict.toFile()).path("splits")) {
        splits.add(s.asText());
      }
      if (!splits.contains(spec.split()) || !Files.isDirectory(dir.resolve(spec.split()))) {
        throw new DataException(
            dir
                + ": a DatasetDict with splits "
                + splits
                + ", none named '"
                + spec.split()
                + "' (set data.split, or data.eval_split for data.eval)");
      }
      return folder(dir.resolve(spec.split()), spec);
    }
    Path state = dir.resolve("state.json");
    if (Files.isRegularFile(state)) {
      List<Path> files = new ArrayList<>();
      for (JsonNode f : Jsonl.mapper().readTree(state.toFile()).path("_data_files")) {
        files.add(dir.resolve(f.path("filename").asText()));
      }
      if (files.isEmpty()) {
        throw new DataException(state + ": lists no _data_files (a save_to_disk folder has them)");
      }
      for (Path f : files) {
        if (!Files.isRegularFile(f)) {
          throw new DataException(state + " lists " + f.getFileName() + ", which is missing");
        }
      }
      return new DataFiles(Format.ARROW, files);
    }
    return HubLayout.files(dir, spec);
  }

  /** Every data file under a folder, relative to it, sorted; hidden folders are left out. */
  static List<Path> dataFiles(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      return s.filter(Files::isRegularFile)
          .filter(Format::isData)
          .map(dir::relativize)
          .filter(p -> !p.toString().startsWith(".") && !p.toString().contains("/."))
          .sorted()
          .toList();
    }
  }

  /** The files, which must all have one format. */
  static DataFiles of(Path root, List<Path> relative, String what) {
    List<Path> files = relative.stream().map(root::resolve).toList();
    Format format = Format.of(files.get(0));
    for (Path f : files) {
      if (Format.of(f) != format) {
        throw new DataException(
            what
                + " mixes formats: "
                + files.get(0).getFileName()
                + " and "
                + f.getFileName()
                + " (a data set's files have one format)");
      }
    }
    return new DataFiles(format, files);
  }
}
