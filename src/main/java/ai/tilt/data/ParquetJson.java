package ai.tilt.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.function.Consumer;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.io.api.Converter;
import org.apache.parquet.io.api.GroupConverter;
import org.apache.parquet.io.api.PrimitiveConverter;
import org.apache.parquet.io.api.RecordMaterializer;
import org.apache.parquet.schema.GroupType;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.LogicalTypeAnnotation.DecimalLogicalTypeAnnotation;
import org.apache.parquet.schema.LogicalTypeAnnotation.ListLogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.Type;

/**
 * Parquet records as the JSON a JSONL line of the same data would be: strings as strings, lists
 * (the LIST annotation, 3-level or legacy 2-level) as arrays, structs as objects with every field
 * (null when absent), so {@code messages: [{role, content}]} reads as in JSONL. Floats become
 * doubles of the same value; binary without a string annotation becomes base64 text.
 */
final class ParquetJson extends RecordMaterializer<ObjectNode> {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private final Struct root;
  private ObjectNode current;

  ParquetJson(MessageType schema) {
    root = new Struct(schema, o -> current = (ObjectNode) o);
  }

  @Override
  public ObjectNode getCurrentRecord() {
    return current;
  }

  @Override
  public GroupConverter getRootConverter() {
    return root;
  }

  private static Converter converter(Type t, Consumer<JsonNode> sink) {
    if (t.isPrimitive()) {
      return new Leaf(t, sink);
    }
    GroupType g = t.asGroupType();
    if (g.getLogicalTypeAnnotation() instanceof ListLogicalTypeAnnotation
        && g.getFieldCount() == 1
        && g.getType(0).isRepetition(Type.Repetition.REPEATED)) {
      return new ListOf(g, sink);
    }
    return new Struct(g, sink);
  }

  /** A group as an object; a repeated field not under a LIST annotation becomes an array. */
  private static final class Struct extends GroupConverter {
    private final String[] names;
    private final boolean[] repeated;
    private final Converter[] fields;
    private final Consumer<JsonNode> sink;
    private ObjectNode node;

    Struct(GroupType type, Consumer<JsonNode> sink) {
      this.sink = sink;
      int n = type.getFieldCount();
      names = new String[n];
      repeated = new boolean[n];
      fields = new Converter[n];
      for (int i = 0; i < n; i++) {
        String name = type.getFieldName(i);
        names[i] = name;
        repeated[i] = type.getType(i).isRepetition(Type.Repetition.REPEATED);
        fields[i] =
            repeated[i]
                ? converter(type.getType(i), v -> ((ArrayNode) node.get(name)).add(v))
                : converter(type.getType(i), v -> node.set(name, v));
      }
    }

    @Override
    public Converter getConverter(int i) {
      return fields[i];
    }

    @Override
    public void start() {
      node = NODES.objectNode();
      for (int i = 0; i < names.length; i++) {
        node.set(names[i], repeated[i] ? NODES.arrayNode() : NullNode.instance);
      }
    }

    @Override
    public void end() {
      sink.accept(node);
    }
  }

  /**
   * A LIST group. The Parquet spec's backward-compatibility rules decide whether the repeated field
   * is the element (2-level: a primitive, a group of several fields, or one named {@code array} or
   * {@code <list>_tuple}) or wraps it (3-level: {@code repeated group list { element }}).
   */
  private static final class ListOf extends GroupConverter {
    private final Converter repetition;
    private final Consumer<JsonNode> sink;
    private ArrayNode array;

    ListOf(GroupType type, Consumer<JsonNode> sink) {
      this.sink = sink;
      Type rep = type.getType(0);
      boolean wraps =
          !rep.isPrimitive()
              && rep.asGroupType().getFieldCount() == 1
              && !rep.getName().equals("array")
              && !rep.getName().equals(type.getName() + "_tuple");
      repetition =
          wraps
              ? new Element(rep.asGroupType().getType(0), this)
              : converter(rep, v -> array.add(v));
    }

    @Override
    public Converter getConverter(int i) {
      return repetition;
    }

    @Override
    public void start() {
      array = NODES.arrayNode();
    }

    @Override
    public void end() {
      sink.accept(array);
    }
  }

  /** One repetition of a 3-level list: its element, or null when the element is absent. */
  private static final class Element extends GroupConverter {
    private final Converter element;
    private final ListOf list;
    private JsonNode value;

    Element(Type elementType, ListOf list) {
      this.list = list;
      this.element = converter(elementType, v -> value = v);
    }

    @Override
    public Converter getConverter(int i) {
      return element;
    }

    @Override
    public void start() {
      value = NullNode.instance;
    }

    @Override
    public void end() {
      list.array.add(value);
    }
  }

  private static final class Leaf extends PrimitiveConverter {
    private final Consumer<JsonNode> sink;
    private final boolean text;
    private final int scale; // DECIMAL's scale, or -1

    Leaf(Type t, Consumer<JsonNode> sink) {
      this.sink = sink;
      LogicalTypeAnnotation a = t.getLogicalTypeAnnotation();
      text =
          a instanceof LogicalTypeAnnotation.StringLogicalTypeAnnotation
              || a instanceof LogicalTypeAnnotation.EnumLogicalTypeAnnotation
              || a instanceof LogicalTypeAnnotation.JsonLogicalTypeAnnotation;
      scale = a instanceof DecimalLogicalTypeAnnotation d ? d.getScale() : -1;
    }

    @Override
    public void addBinary(Binary v) {
      if (text) {
        sink.accept(NODES.textNode(v.toStringUsingUTF8()));
      } else if (scale >= 0) {
        sink.accept(NODES.numberNode(new BigDecimal(new BigInteger(v.getBytes()), scale)));
      } else {
        sink.accept(NODES.binaryNode(v.getBytes()));
      }
    }

    @Override
    public void addBoolean(boolean v) {
      sink.accept(NODES.booleanNode(v));
    }

    @Override
    public void addDouble(double v) {
      sink.accept(NODES.numberNode(v));
    }

    @Override
    public void addFloat(float v) {
      sink.accept(NODES.numberNode((double) v));
    }

    @Override
    public void addInt(int v) {
      sink.accept(
          scale >= 0 ? NODES.numberNode(BigDecimal.valueOf(v, scale)) : NODES.numberNode(v));
    }

    @Override
    public void addLong(long v) {
      sink.accept(
          scale >= 0 ? NODES.numberNode(BigDecimal.valueOf(v, scale)) : NODES.numberNode(v));
    }
  }
}
