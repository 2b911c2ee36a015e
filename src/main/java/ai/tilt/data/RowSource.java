package ai.tilt.data;

import java.io.Closeable;
import java.io.IOException;

/**
 * The rows of one data file, in order: {@link JsonlRows}, {@link ParquetRows} or {@link ArrowRows}.
 */
interface RowSource extends Closeable {
  /**
   * The next row, or null after the last.
   *
   * @param first the 1-based position in the data set that this row takes
   * @throws DataException when the file cannot be read as its format, naming the file, the row
   *     group or row, and the column where the format says
   */
  Row next(int first) throws IOException;
}
