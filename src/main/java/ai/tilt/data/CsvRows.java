package ai.tilt.data;

import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvParser;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A {@code .csv} file with a header row, typed per column as HF's CSV loader (pandas) types it: a
 * column whose every value is an integer, a number or True/False becomes numbers or booleans, any
 * other a string; an empty cell is a missing value. Typing needs every value of a column, so the
 * file is read whole (CSV data sets are small; a large one is better as Parquet). Rows are named
 * {@code file: row R}, counted from 0 as {@code dataset[R]} does.
 */
final class CsvRows implements RowSource {
  private static final Pattern INTEGER = Pattern.compile("[-+]?\\d+");
  private static final Pattern NUMBER =
      Pattern.compile(
          "[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?|[-+]?(inf|nan)", Pattern.CASE_INSENSITIVE);

  private enum Kind {
    INTEGER,
    NUMBER,
    BOOLEAN,
    STRING
  }

  private final Path file;
  private final Row.Columns columns;
  private final List<Map<String, String>> rows = new ArrayList<>();
  private final List<String> names;
  private final Kind[] kinds;
  private int next;

  CsvRows(Path file, Map<String, String> renames) throws IOException {
    this.file = file;
    CsvMapper csv = new CsvMapper();
    csv.enable(CsvParser.Feature.FAIL_ON_MISSING_COLUMNS);
    CsvSchema schema = CsvSchema.emptySchema().withHeader();
    try (MappingIterator<Map<String, String>> it =
        csv.readerFor(Map.class).with(schema).readValues(file.toFile())) {
      while (it.hasNextValue()) {
        rows.add(it.nextValue());
      }
      names = new ArrayList<>();
      CsvSchema read = (CsvSchema) it.getParser().getSchema();
      read.forEach(c -> names.add(c.getName()));
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new DataException(
          file
              + ":"
              + e.getLocation().getLineNr()
              + ": not a CSV file with a header row ("
              + e.getOriginalMessage()
              + ")");
    } catch (RuntimeException e) {
      throw new DataException(file + ": not a CSV file with a header row (" + e.getMessage() + ")");
    }
    columns = new Row.Columns(renames, names);
    DataException missing = columns.missingRename(file);
    if (missing != null) {
      throw missing;
    }
    kinds = new Kind[names.size()];
    for (int c = 0; c < kinds.length; c++) {
      kinds[c] = kindOf(names.get(c));
    }
  }

  /** The narrowest kind every value of the column fits, as pandas infers it. */
  private Kind kindOf(String column) {
    boolean integer = true;
    boolean number = true;
    boolean bool = true;
    boolean any = false;
    for (Map<String, String> row : rows) {
      String v = row.get(column);
      if (v == null || v.isEmpty()) {
        continue;
      }
      any = true;
      integer &= INTEGER.matcher(v).matches();
      number &= NUMBER.matcher(v).matches();
      bool &= v.equals("True") || v.equals("False");
    }
    if (!any) {
      return Kind.STRING;
    }
    return integer ? Kind.INTEGER : number ? Kind.NUMBER : bool ? Kind.BOOLEAN : Kind.STRING;
  }

  @Override
  public Row next(int first) {
    if (next >= rows.size()) {
      return null;
    }
    int r = next++;
    Map<String, String> row = rows.get(r);
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    for (int c = 0; c < kinds.length; c++) {
      String name = names.get(c);
      String v = row.get(name);
      if (v == null || v.isEmpty()) {
        o.putNull(name);
        continue;
      }
      switch (kinds[c]) {
        case INTEGER -> o.put(name, Long.parseLong(v.startsWith("+") ? v.substring(1) : v));
        case NUMBER -> o.put(name, number(v));
        case BOOLEAN -> o.put(name, v.equals("True"));
        default -> o.put(name, v);
      }
    }
    return Row.ofObject(file + ": row " + r, first, o, columns);
  }

  /** pandas' spelling of the special values too: inf, -inf, nan (any case). */
  private static double number(String v) {
    String s = v.toLowerCase();
    return switch (s) {
      case "inf", "+inf" -> Double.POSITIVE_INFINITY;
      case "-inf" -> Double.NEGATIVE_INFINITY;
      case "nan", "+nan", "-nan" -> Double.NaN;
      default -> Double.parseDouble(v);
    };
  }

  @Override
  public void close() {}
}
