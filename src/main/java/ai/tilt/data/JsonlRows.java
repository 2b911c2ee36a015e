package ai.tilt.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The non-blank lines of a JSONL file as rows, each parsed only when asked for: the loaders read
 * raw bytes for speed, and a line that is not JSON is then one row's error (skippable), not the
 * file's.
 */
final class JsonlRows implements RowSource {
  private final Path file;
  private final Row.Columns columns;
  private final InputStream in;
  // a block read at a time and scanned for line ends: InputStream.read() per byte made reading
  // (not parsing) most of a JSONL pass
  private byte[] block = new byte[1 << 16];
  private int start; // first unread byte in block
  private int end; // one past the last valid byte
  private boolean eof;
  private int line;

  JsonlRows(Path file, Row.Columns columns) throws IOException {
    this.file = file;
    this.columns = columns;
    this.in = Files.newInputStream(file);
  }

  /** JSONL rows are numbered by their line, not by their position in the data set. */
  @Override
  public Row next(int first) throws IOException {
    byte[] raw;
    while ((raw = nextLine()) != null) {
      line++;
      if (!Jsonl.isBlankLine(raw)) {
        return Row.ofLine(file + ":" + line, line, raw, columns);
      }
    }
    return null;
  }

  /** The next line's bytes without its {@code \n} or {@code \r\n}; null at the end. */
  private byte[] nextLine() throws IOException {
    int scanned = start;
    while (true) {
      for (int i = scanned; i < end; i++) {
        if (block[i] == '\n') {
          byte[] out = cut(start, i);
          start = i + 1;
          return out;
        }
      }
      if (eof) {
        if (start == end) {
          return null;
        }
        byte[] out = cut(start, end); // a last line without a line break
        start = end;
        return out;
      }
      scanned = end - start;
      if (start > 0) { // keep the partial line, at the front
        System.arraycopy(block, start, block, 0, end - start);
        end -= start;
        start = 0;
      }
      if (end == block.length) { // a line longer than the block
        block = Arrays.copyOf(block, block.length * 2);
      }
      int n = in.read(block, end, block.length - end);
      if (n < 0) {
        eof = true;
      } else {
        end += n;
      }
    }
  }

  private byte[] cut(int from, int to) {
    int stop = to > from && block[to - 1] == '\r' ? to - 1 : to;
    return Arrays.copyOfRange(block, from, stop);
  }

  @Override
  public void close() throws IOException {
    in.close();
  }
}
