package ai.tilt.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.nio.channels.Channels;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.ValueVector;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.LargeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.complex.StructVector;
import org.apache.arrow.vector.ipc.ReadChannel;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.MessageMetadataResult;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
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
  private final InputStream stream;
  private ReadChannel in;
  private VectorLoader loader;
  private final Row.Columns columns;
  private VectorSchemaRoot batch;
  private int index; // in the current batch
  private int batches;
  private long row = -1; // index in the file

  ArrowRows(Path file, Map<String, String> renames) throws IOException {
    this.file = file;
    allocator = new RootAllocator();
    stream = new BufferedInputStream(Files.newInputStream(file));
    List<String> names = new ArrayList<>();
    try {
      // The file format is the stream format between its magic and its footer.
      stream.mark(FILE_MAGIC.length + 2);
      if (!Arrays.equals(stream.readNBytes(FILE_MAGIC.length), FILE_MAGIC)) {
        stream.reset();
      } else {
        stream.skipNBytes(2); // padding to 8 bytes
      }
      in = new ReadChannel(Channels.newChannel(stream));
      MessageMetadataResult first = MessageSerializer.readMessage(in);
      if (first == null || first.headerType() != MessageHeader.Schema) {
        throw new IOException("its first message is not a schema");
      }
      batch = VectorSchemaRoot.create(MessageSerializer.deserializeSchema(first), allocator);
      loader = new VectorLoader(batch);
      for (Field f : batch.getSchema().getFields()) {
        names.add(f.getName());
      }
    } catch (IOException | RuntimeException e) {
      close();
      throw new DataException(file + ": not an Arrow IPC stream or file (" + e.getMessage() + ")");
    }
    columns = new Row.Columns(renames, names);
    DataException missing = columns.missingRename(file);
    if (missing != null) {
      close();
      throw missing;
    }
  }

  @Override
  public Row next(int first) throws IOException {
    while (batches == 0 || index >= batch.getRowCount()) {
      try {
        if (!loadNextBatch()) {
          return null;
        }
      } catch (IOException | RuntimeException e) {
        throw new DataException(file + ": record batch " + batches + ": " + e.getMessage());
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
   * Reads the next record batch's body through a heap array into Arrow memory: Arrow Java's own
   * readers wrap its memory in a direct ByteBuffer, which on Java 17 needs {@code
   * --add-opens=java.base/java.nio=ALL-UNNAMED} on every command line that runs Tilt; copying in
   * with Unsafe does not.
   */
  private boolean loadNextBatch() throws IOException {
    MessageMetadataResult m;
    while ((m = MessageSerializer.readMessage(in)) != null) {
      if (m.headerType() == MessageHeader.DictionaryBatch) {
        throw new IOException("dictionary-encoded columns are not supported");
      }
      long length = m.getMessageBodyLength();
      if (length > Integer.MAX_VALUE - 8) {
        throw new IOException("a record batch of " + length + " bytes (at most 2 GB are read)");
      }
      byte[] body = stream.readNBytes((int) length);
      if (body.length != length) {
        throw new IOException("the file ends inside a record batch");
      }
      if (m.headerType() != MessageHeader.RecordBatch) {
        continue;
      }
      ArrowBuf buf = allocator.buffer(Math.max(length, 1));
      ArrowRecordBatch b;
      try {
        buf.setBytes(0, body);
      } catch (RuntimeException e) {
        buf.close();
        throw e;
      }
      // deserializeRecordBatch releases the body: the batch's slices hold it from here on.
      try {
        b = MessageSerializer.deserializeRecordBatch(m, buf);
      } catch (IOException | RuntimeException e) {
        if (buf.refCnt() > 0) {
          buf.close(); // a malformed batch: its body is not left to the allocator's leak check
        }
        throw e;
      }
      try (b) {
        loader.load(b);
      }
      return true;
    }
    return false;
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
      stream.close();
      if (batch != null) {
        batch.close();
      }
    } finally {
      allocator.close();
    }
  }
}
