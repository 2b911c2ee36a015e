package ai.tilt.report;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * One TensorBoard {@code Event} as Tilt writes and reads it: the {@code file_version} event that
 * opens every file, or a summary of scalars ({@code simple_value}) and texts (the text plugin's
 * string tensor). Field numbers are those of tensorboard/compat/proto/event.proto, summary.proto
 * and tensor.proto.
 *
 * @param fileVersion {@code "brain.Event:2"} in a file's first event, else null
 * @param values the summary's values; empty for the file_version event
 */
public record TensorBoardEvent(double wallTime, long step, String fileVersion, List<Value> values) {
  /** What every event file starts with; readers check it before they trust the rest. */
  public static final String FILE_VERSION = "brain.Event:2";

  /** The text plugin's name in {@code SummaryMetadata.plugin_data}. */
  static final String TEXT_PLUGIN = "text";

  /** tensorflow DataType DT_STRING (types.proto). */
  static final int DT_STRING = 7;

  /** A summary value. */
  public sealed interface Value permits Scalar, Text {
    String tag();
  }

  /** A point of a curve: {@code Summary.Value{tag, simple_value}}. */
  public record Scalar(String tag, float simpleValue) implements Value {}

  /** Markdown the text plugin renders: a scalar DT_STRING tensor with plugin_name "text". */
  public record Text(String tag, String markdown) implements Value {}

  public TensorBoardEvent {
    values = List.copyOf(values);
  }

  /** The event that opens a file. */
  static TensorBoardEvent fileVersion(double wallTime) {
    return new TensorBoardEvent(wallTime, 0, FILE_VERSION, List.of());
  }

  /** The event's protobuf bytes. Defaults are left out as proto3 does (step 0 is no field). */
  byte[] encode() {
    Protobuf.Writer event = new Protobuf.Writer().fixed64(1, wallTime);
    if (step != 0) {
      event.varint(2, step);
    }
    if (fileVersion != null) {
      event.string(3, fileVersion);
    }
    if (!values.isEmpty()) {
      Protobuf.Writer summary = new Protobuf.Writer();
      for (Value v : values) {
        summary.message(1, encode(v));
      }
      event.message(5, summary);
    }
    return event.toByteArray();
  }

  private static Protobuf.Writer encode(Value v) {
    Protobuf.Writer value = new Protobuf.Writer().string(1, v.tag());
    if (v instanceof Scalar s) {
      // simple_value sits in a oneof, so 0.0 is written too: without it there is no scalar
      value.fixed32(2, s.simpleValue());
    } else if (v instanceof Text t) {
      // fields in number order (tensor 8, metadata 9), as protobuf's own serializers write them
      Protobuf.Writer tensor =
          new Protobuf.Writer()
              .varint(1, DT_STRING)
              .bytes(8, t.markdown().getBytes(StandardCharsets.UTF_8));
      value.message(8, tensor);
      // TextPluginData{version: 0} encodes to no bytes, so plugin_data has only its name
      Protobuf.Writer pluginData = new Protobuf.Writer().string(1, TEXT_PLUGIN);
      value.message(9, new Protobuf.Writer().message(1, pluginData));
    }
    return value;
  }

  /**
   * Decodes an event Tilt wrote.
   *
   * @throws IllegalArgumentException for malformed bytes or a value that is neither a scalar nor a
   *     text (a histogram, an image: Tilt writes none)
   */
  static TensorBoardEvent decode(byte[] data) {
    Protobuf.Reader in = new Protobuf.Reader(data);
    double wallTime = 0;
    long step = 0;
    String fileVersion = null;
    List<Value> values = new ArrayList<>();
    while (in.more()) {
      switch (in.field()) {
        case 1 -> wallTime = in.fixed64();
        case 2 -> step = in.varint();
        case 3 -> fileVersion = in.string();
        case 5 -> {
          Protobuf.Reader summary = new Protobuf.Reader(in.bytes());
          while (summary.more()) {
            if (summary.field() == 1) {
              values.add(decodeValue(summary.bytes()));
            } else {
              summary.skip();
            }
          }
        }
        default -> in.skip();
      }
    }
    return new TensorBoardEvent(wallTime, step, fileVersion, values);
  }

  /** Only the step of any event (whatever its values), for cutting a file at a step. */
  static long stepOf(byte[] data) {
    Protobuf.Reader in = new Protobuf.Reader(data);
    while (in.more()) {
      if (in.field() == 2) {
        return in.varint();
      }
      in.skip();
    }
    return 0;
  }

  private static Value decodeValue(byte[] bytes) {
    Protobuf.Reader in = new Protobuf.Reader(bytes);
    String tag = null;
    Float simpleValue = null;
    String plugin = null;
    int dtype = 0;
    List<String> strings = new ArrayList<>();
    while (in.more()) {
      switch (in.field()) {
        case 1 -> tag = in.string();
        case 2 -> simpleValue = in.fixed32();
        case 8 -> {
          Protobuf.Reader tensor = new Protobuf.Reader(in.bytes());
          while (tensor.more()) {
            switch (tensor.field()) {
              case 1 -> dtype = (int) tensor.varint();
              case 8 -> strings.add(tensor.string());
              default -> tensor.skip();
            }
          }
        }
        case 9 -> plugin = pluginName(in.bytes());
        default -> in.skip();
      }
    }
    if (simpleValue != null) {
      return new Scalar(tag, simpleValue);
    }
    if (TEXT_PLUGIN.equals(plugin) && dtype == DT_STRING && strings.size() == 1) {
      return new Text(tag, strings.get(0));
    }
    throw new IllegalArgumentException(
        "value '" + tag + "' is neither a simple_value nor a text tensor");
  }

  private static String pluginName(byte[] metadata) {
    Protobuf.Reader in = new Protobuf.Reader(metadata);
    while (in.more()) {
      if (in.field() == 1) {
        Protobuf.Reader pluginData = new Protobuf.Reader(in.bytes());
        while (pluginData.more()) {
          if (pluginData.field() == 1) {
            return pluginData.string();
          }
          pluginData.skip();
        }
      } else {
        in.skip();
      }
    }
    return null;
  }
}
