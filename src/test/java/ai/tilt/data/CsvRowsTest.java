package ai.tilt.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CSV data as HF's CSV loader (pandas) reads it: a header row, quoted cells holding commas, quotes
 * and line breaks, columns typed by their values, empty cells missing.
 */
class CsvRowsTest {
  @TempDir Path tmp;

  @Test
  void cellsAreTypedPerColumnAsPandasDoes() throws IOException {
    Path f =
        Files.writeString(
            tmp.resolve("pairs.csv"),
            "prompt,chosen,rejected,score_chosen,label,id\n"
                + "\"Sort: b, a\",\" a b\",\" b a\",7.5,True,12\n"
                + "\"Say \"\"hi\"\"\nplease\", hi, ho,8,False,007\n"
                + "42,yes,no,,True,3\n");
    List<String> rows = DataFormatsTest.rows(DataSpec.of(f));
    assertEquals(
        List.of(
            "{\"prompt\":\"Sort: b, a\",\"chosen\":\" a b\",\"rejected\":\" b a\","
                + "\"score_chosen\":7.5,\"label\":true,\"id\":12}",
            "{\"prompt\":\"Say \\\"hi\\\"\\nplease\",\"chosen\":\" hi\",\"rejected\":\" ho\","
                + "\"score_chosen\":8.0,\"label\":false,\"id\":7}",
            // a number among strings stays a string; an empty cell is missing
            "{\"prompt\":\"42\",\"chosen\":\"yes\",\"rejected\":\"no\","
                + "\"score_chosen\":null,\"label\":true,\"id\":3}"),
        rows);
  }

  @Test
  void aCsvPreferenceSetReadsAsItsJsonlTwin() throws Exception {
    Path jsonl = tmp.resolve("pairs.jsonl");
    Files.writeString(
        jsonl,
        "{\"prompt\": \"Sort: b, a\", \"chosen\": \" a b\", \"rejected\": \" b a\"}\n"
            + "{\"prompt\": \"Count: 1\", \"chosen\": \" 2 3\", \"rejected\": \" 2 4\"}\n");
    Path csv =
        Files.writeString(
            tmp.resolve("pairs.csv"),
            "prompt,chosen,rejected\n\"Sort: b, a\", a b, b a\nCount: 1, 2 3, 2 4\n");
    assertEquals(DataFormatsTest.rows(DataSpec.of(jsonl)), DataFormatsTest.rows(DataSpec.of(csv)));
    // renames and a missing column name the file's columns, as for Parquet
    Path renamed =
        Files.writeString(tmp.resolve("renamed.csv"), "q,good,bad\nCount: 1, 2 3, 2 4\n");
    List<String> got =
        DataFormatsTest.rows(
            new DataSpec(
                renamed.toString(),
                null,
                null,
                null,
                Map.of("prompt", "q", "chosen", "good", "rejected", "bad")));
    assertEquals(1, got.size());
    assertEquals( // field order aside
        Jsonl.mapper()
            .readTree("{\"prompt\":\"Count: 1\",\"chosen\":\" 2 3\",\"rejected\":\" 2 4\"}"),
        Jsonl.mapper().readTree(got.get(0)));
    DataException e =
        assertThrows(
            DataException.class,
            () ->
                DataFormatsTest.rows(
                    new DataSpec(renamed.toString(), null, null, null, Map.of("prompt", "x"))));
    assertTrue(e.getMessage().contains("(the file's columns: q, good, bad)"), e.getMessage());
  }

  @Test
  void aRowWithTooFewCellsNamesTheFile() throws IOException {
    Path f = Files.writeString(tmp.resolve("bad.csv"), "prompt,chosen,rejected\na,b\n");
    DataException e = assertThrows(DataException.class, () -> DataFormatsTest.rows(DataSpec.of(f)));
    assertTrue(e.getMessage().startsWith(f + ":2: not a CSV file"), e.getMessage());
    assertTrue(e.getMessage().contains("expected 3, found 2"), e.getMessage());
  }
}
