package ai.tilt.data;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** The rows of a data set's files, one file after another ({@link DataFiles} finds them). */
final class DataRows implements Closeable {
  private final DataFiles files;
  private final Row.Columns renames;
  private int next; // the next file to open
  private RowSource current;
  private int rows;

  private DataRows(DataFiles files, DataSpec spec) {
    this.files = files;
    this.renames = new Row.Columns(spec.columns(), null);
  }

  /**
   * Opens a data set.
   *
   * @throws DataException when it cannot be found, naming where it looked
   */
  static DataRows open(DataSpec spec) throws IOException {
    return new DataRows(DataFiles.resolve(spec), spec);
  }

  /** The files read, in order. */
  List<Path> files() {
    return files.files();
  }

  /** The next row, or null after the last row of the last file. */
  Row next() throws IOException {
    while (true) {
      if (current == null) {
        if (next == files.files().size()) {
          return null;
        }
        current = open(files.files().get(next++));
      }
      Row r = current.next(rows + 1);
      if (r != null) {
        rows++;
        return r;
      }
      current.close();
      current = null;
    }
  }

  private RowSource open(Path file) throws IOException {
    switch (DataFiles.Format.of(file)) {
      case PARQUET:
        return new ParquetRows(file, renames.renames());
      case ARROW:
        return new ArrowRows(file, renames.renames());
      case CSV:
        return new CsvRows(file, renames.renames());
      default:
        return file.getFileName().toString().toLowerCase().endsWith(".json")
                && JsonArrayRows.isArray(file)
            ? new JsonArrayRows(file, renames)
            : new JsonlRows(file, renames);
    }
  }

  @Override
  public void close() throws IOException {
    if (current != null) {
      current.close();
    }
  }
}
