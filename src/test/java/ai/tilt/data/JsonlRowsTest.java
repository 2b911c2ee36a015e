package ai.tilt.data;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * JSONL lines as the block scanner cuts them: line ends, blank lines, lines longer than a block.
 */
class JsonlRowsTest {
  @TempDir Path tmp;

  @Test
  void linesAreCutAtEveryLineEndWhateverTheBlocks() throws IOException, JsonFields.Invalid {
    String longText = "x".repeat(200_000); // three blocks and more: the buffer grows
    List<String> lines = new ArrayList<>();
    StringBuilder file = new StringBuilder();
    for (int i = 0; i < 3000; i++) { // many short lines straddle block boundaries
      String text = i == 1234 ? longText : "row " + i;
      lines.add("{\"text\":\"" + text + "\"}");
      file.append(lines.get(i)).append(i % 3 == 0 ? "\r\n" : "\n");
      if (i % 500 == 0) {
        file.append("  \n\n"); // blank lines are skipped but keep their numbers
      }
    }
    file.append("{\"text\":\"last, without a line break\"}");
    lines.add("{\"text\":\"last, without a line break\"}");
    Path f = Files.writeString(tmp.resolve("d.jsonl"), file.toString(), StandardCharsets.UTF_8);
    List<String> got = new ArrayList<>();
    List<Integer> numbers = new ArrayList<>();
    try (JsonlRows rows = new JsonlRows(f, Row.Columns.NONE)) {
      Row r;
      while ((r = rows.next(0)) != null) {
        got.add(r.object().toString());
        numbers.add(r.number());
      }
    }
    assertEquals(lines, got);
    // line numbers count the blank lines: row 501 sits after two blank lines at 1 and 501
    assertEquals(1, numbers.get(0));
    assertEquals(4, numbers.get(1)); // line 1 is row 0, lines 2-3 blank
    assertEquals(lines.size() + 2 * 6, (int) numbers.get(numbers.size() - 1));
  }

  /** data.columns renames read every source before writing any target: swaps and chains work. */
  @Test
  void renamesSwapAndChainWithoutReadingAnOverwrittenColumn() throws JsonFields.Invalid {
    com.fasterxml.jackson.databind.node.ObjectNode o =
        Jsonl.mapper().createObjectNode().put("prompt", "P").put("completion", "C").put("x", "X");
    Row.Columns swap =
        new Row.Columns(java.util.Map.of("prompt", "completion", "completion", "prompt"), null);
    assertEquals("{\"completion\":\"P\",\"prompt\":\"C\",\"x\":\"X\"}", sorted(swap.rename(o)));
    com.fasterxml.jackson.databind.node.ObjectNode chain =
        Jsonl.mapper().createObjectNode().put("b", "B").put("c", "C");
    Row.Columns ab = new Row.Columns(java.util.Map.of("a", "b", "b", "c"), null);
    assertEquals("{\"a\":\"B\",\"b\":\"C\"}", sorted(ab.rename(chain)));
  }

  /** Fields in name order, so the map's iteration order does not matter. */
  private static String sorted(com.fasterxml.jackson.databind.node.ObjectNode o) {
    java.util.TreeMap<String, String> m = new java.util.TreeMap<>();
    o.fields().forEachRemaining(e -> m.put(e.getKey(), e.getValue().asText()));
    StringBuilder b = new StringBuilder("{");
    m.forEach(
        (k, v) ->
            b.append(b.length() > 1 ? "," : "")
                .append('"')
                .append(k)
                .append("\":\"")
                .append(v)
                .append('"'));
    return b.append('}').toString();
  }
}
