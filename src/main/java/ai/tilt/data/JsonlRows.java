package ai.tilt.data;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The non-blank lines of a JSONL file as rows, each parsed only when asked for: the loaders read
 * raw bytes for speed, and a line that is not JSON is then one row's error (skippable), not the
 * file's.
 */
final class JsonlRows implements RowSource {
  private final Path file;
  private final Row.Columns columns;
  private final InputStream in;
  private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
  private int line;

  JsonlRows(Path file, Row.Columns columns) throws IOException {
    this.file = file;
    this.columns = columns;
    this.in = new BufferedInputStream(Files.newInputStream(file));
  }

  /** JSONL rows are numbered by their line, not by their position in the data set. */
  @Override
  public Row next(int first) throws IOException {
    byte[] raw;
    while ((raw = Jsonl.readRawLine(in, buf)) != null) {
      line++;
      if (!Jsonl.isBlankLine(raw)) {
        return Row.ofLine(file + ":" + line, line, raw, columns);
      }
    }
    return null;
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
