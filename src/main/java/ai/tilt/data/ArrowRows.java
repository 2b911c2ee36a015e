package ai.tilt.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.ValueVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.LargeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.StructVector;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.util.Text;

/**
 * The rows of an Arrow IPC file as JSON objects: the stream format that HF datasets' {@code
 * save_to_disk} writes ({@code data-00000-of-00001.arrow}), or the file format ({@code ARROW1}
 * magic). One record batch in memory at a time. Strings, lists and structs map as in {@link
 * ParquetJson}.
 */
final class ArrowRows implements RowSource {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
  private static final byte[] FILE_MAGIC = "ARROW1".getBytes(StandardCharsets.US_ASCII);

  private final Path file;
  private final BufferAllocator allocator;
  private final ArrowReader reader;
  private final Row.Columns columns;
  private VectorSchemaRoot batch;
  private int index; // in the current batch
  private int batches;
  private long row = -1; // index in the file

  ArrowRows(Path file, Map<String, String> renames) throws IOException {
    this.file = file;
    allocator = new RootAllocator();
    byte[] head = new byte[FILE_MAGIC.length];
    try (InputStream in = Files.newInputStream(file)) {
      head = in.readNBytes(head.length);
    }
    reader =
        Arrays.equals(head, FILE_MAGIC)
            ? new ArrowFileReader(FileChannel.open(file), allocator)
            : new ArrowStreamReader(Files.newInputStream(file), allocator);
    List<String> names = new ArrayList<>();
    try {
      batch = reader.getVectorSchemaRoot();
      for (Field f : batch.getSchema().getFields()) {
        names.add(f.getName());
      }
    } catch (IOException | RuntimeException e) {
      close();
      throw new DataException(file + ": not an Arrow IPC stream or file (" + e.getMessage() + ")");
    }
    columns = new Row.Columns(renames, names);
    for (Map.Entry<String, String> e : renames.entrySet()) {
      if (!names.contains(e.getValue())) {
        close();
        throw new DataException(
            file
                + ": no column \""
                + e.getValue()
                + "\" (data.columns."
                + e.getKey()
                + ")"
                + columns.note());
      }
    }
    index = 0;
  }

  @Override
  public Row next(int first) throws IOException {
    while (batches == 0 || index >= batch.getRowCount()) {
      boolean more;
      try {
        more = reader.loadNextBatch();
      } catch (IOException | RuntimeException e) {
        throw new DataException(file + ": record batch " + batches + ": " + e.getMessage());
      }
      if (!more) {
        return null;
      }
      batches++;
      index = 0;
    }
    row++;
    String where = file + ": row " + row;
    ObjectNode o = NODES.objectNode();
    for (FieldVector v : batch.getFieldVectors()) {
      try {
        o.set(v.getName(), json(v, index));
      } catch (RuntimeException e) {
        throw new DataException(
            where + ": column \"" + v.getName() + "\" does not decode (" + e.getMessage() + ")");
      }
    }
    index++;
    return Row.ofObject(where, first, o, columns);
  }

  /**
   * A vector's value: structs field by field from the schema (a null field stays as null, where
   * Arrow Java's {@code getObject} would drop it), lists element by element, others by value.
   */
  private static JsonNode json(ValueVector v, int i) {
    if (v.isNull(i)) {
      return NullNode.instance;
    }
    if (v instanceof StructVector s) {
      ObjectNode o = NODES.objectNode();
      for (FieldVector c : s.getChildrenFromFields()) {
        o.set(c.getName(), json(c, i));
      }
      return o;
    }
    if (v instanceof ListVector l) {
      ArrayNode a = NODES.arrayNode();
      for (int e = l.getElementStartIndex(i); e < l.getElementEndIndex(i); e++) {
        a.add(json(l.getDataVector(), e));
      }
      return a;
    }
    if (v instanceof LargeListVector l) {
      ArrayNode a = NODES.arrayNode();
      for (long e = l.getElementStartIndex(i); e < l.getElementEndIndex(i); e++) {
        a.add(json(l.getDataVector(), Math.toIntExact(e)));
      }
      return a;
    }
    return json(v.getObject(i));
  }

  /** Arrow Java's values (Text, JsonStringArrayList, JsonStringHashMap, boxed numbers) as JSON. */
  private static JsonNode json(Object v) {
    if (v == null) {
      return NullNode.instance;
    }
    if (v instanceof Text || v instanceof String || v instanceof Character) {
      return NODES.textNode(v.toString());
    }
    if (v instanceof Boolean b) {
      return NODES.booleanNode(b);
    }
    if (v instanceof Float f) {
      return NODES.numberNode((double) f);
    }
    if (v instanceof Double d) {
      return NODES.numberNode(d);
    }
    if (v instanceof Long l) {
      return NODES.numberNode(l);
    }
    if (v instanceof Number n && !(v instanceof BigDecimal)) {
      return NODES.numberNode(n.longValue());
    }
    if (v instanceof BigDecimal d) {
      return NODES.numberNode(d);
    }
    if (v instanceof byte[] bytes) {
      return NODES.binaryNode(bytes);
    }
    if (v instanceof List<?> list) {
      ArrayNode a = NODES.arrayNode();
      for (Object e : list) {
        a.add(json(e));
      }
      return a;
    }
    if (v instanceof Map<?, ?> map) {
      ObjectNode o = NODES.objectNode();
      for (Map.Entry<?, ?> e : map.entrySet()) {
        o.set(String.valueOf(e.getKey()), json(e.getValue()));
      }
      return o;
    }
    return NODES.textNode(v.toString()); // dates, times, durations: their ISO text
  }

  @Override
  public void close() throws IOException {
    try {
      reader.close();
    } finally {
      allocator.close();
    }
  }
}
