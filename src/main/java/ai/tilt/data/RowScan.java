package ai.tilt.data;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads every row of a data set as training would, before tokenisation ({@code tilt bench data}):
 * the reading cost alone.
 */
public final class RowScan {
  private RowScan() {}

  /**
   * What one pass read.
   *
   * @param rows rows read
   * @param files files read
   * @param bytes the files' size on disk
   * @param textChars characters in the rows' top-level string fields (so the work is used)
   * @param invalid rows that were not JSON objects (JSONL)
   */
  public record Counts(long rows, int files, long bytes, long textChars, long invalid) {}

  /** One pass over the data set. */
  public static Counts scan(DataSpec spec) throws IOException {
    long rows = 0;
    long chars = 0;
    long invalid = 0;
    long bytes = 0;
    try (DataRows data = DataRows.open(spec)) {
      for (Path f : data.files()) {
        bytes += Files.size(f);
      }
      Row r;
      while ((r = data.next()) != null) {
        rows++;
        try {
          for (JsonNode v : r.object()) {
            chars += v.isTextual() ? v.textValue().length() : 0;
          }
        } catch (JsonFields.Invalid e) {
          invalid++;
        }
      }
      return new Counts(rows, data.files().size(), bytes, chars, invalid);
    }
  }
}
