package ai.tilt.report;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The few pieces of protobuf's wire format that TensorBoard's Event needs: varints, fixed 32- and
 * 64-bit numbers, and length-delimited bytes (strings and nested messages). Written out by hand
 * rather than with protobuf-java: that library still needs the .proto files compiled by protoc (a
 * native plugin in the build) or descriptors built by hand for DynamicMessage, both more code and
 * more moving parts than the dozen fields written here, and a 1.9 MB jar for them. Wire format:
 * https://protobuf.dev/programming-guides/encoding/.
 */
final class Protobuf {
  static final int VARINT = 0;
  static final int FIXED64 = 1;
  static final int LENGTH_DELIMITED = 2;
  static final int FIXED32 = 5;

  private Protobuf() {}

  /** Builds one message, fields in the order written. */
  static final class Writer {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    private void key(int field, int wireType) {
      varint((long) field << 3 | wireType);
    }

    private void varint(long v) {
      while ((v & ~0x7FL) != 0) {
        out.write((int) (v & 0x7F) | 0x80);
        v >>>= 7;
      }
      out.write((int) v);
    }

    Writer varint(int field, long value) {
      key(field, VARINT);
      varint(value);
      return this;
    }

    Writer fixed64(int field, double value) {
      key(field, FIXED64);
      out.writeBytes(
          ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putDouble(value).array());
      return this;
    }

    Writer fixed32(int field, float value) {
      key(field, FIXED32);
      out.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(value).array());
      return this;
    }

    Writer bytes(int field, byte[] value) {
      key(field, LENGTH_DELIMITED);
      varint(value.length);
      out.writeBytes(value);
      return this;
    }

    Writer string(int field, String value) {
      return bytes(field, value.getBytes(StandardCharsets.UTF_8));
    }

    Writer message(int field, Writer message) {
      return bytes(field, message.toByteArray());
    }

    byte[] toByteArray() {
      return out.toByteArray();
    }
  }

  /**
   * Reads a message field by field; unknown fields are skipped by the caller with {@link #skip}.
   */
  static final class Reader {
    private final ByteBuffer in;
    private int wireType;

    Reader(byte[] message) {
      in = ByteBuffer.wrap(message).order(ByteOrder.LITTLE_ENDIAN);
    }

    boolean more() {
      return in.hasRemaining();
    }

    /** The next field's number (its wire type is kept for the read that follows). */
    int field() {
      long key = varint();
      wireType = (int) (key & 7);
      return (int) (key >>> 3);
    }

    long varint() {
      long v = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        byte b = in.get();
        v |= (long) (b & 0x7F) << shift;
        if (b >= 0) {
          return v;
        }
      }
      throw new IllegalArgumentException("a varint longer than 10 bytes");
    }

    double fixed64() {
      expect(FIXED64);
      return in.getDouble();
    }

    float fixed32() {
      expect(FIXED32);
      return in.getFloat();
    }

    byte[] bytes() {
      expect(LENGTH_DELIMITED);
      byte[] b = new byte[Math.toIntExact(varint())];
      in.get(b);
      return b;
    }

    String string() {
      return new String(bytes(), StandardCharsets.UTF_8);
    }

    void skip() {
      switch (wireType) {
        case VARINT -> varint();
        case FIXED64 -> in.position(in.position() + 8);
        case LENGTH_DELIMITED -> {
          int length = Math.toIntExact(varint()); // read before the position it moves
          in.position(in.position() + length);
        }
        case FIXED32 -> in.position(in.position() + 4);
        default -> throw new IllegalArgumentException("unsupported wire type " + wireType);
      }
    }

    private void expect(int type) {
      if (wireType != type) {
        throw new IllegalArgumentException("wire type " + wireType + " where " + type + " belongs");
      }
    }
  }
}
