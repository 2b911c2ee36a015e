package ai.tilt.report;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * TFRecord framing, the container of TensorBoard's event files: each record is {@code uint64
 * length, uint32 masked_crc32c(length), byte data[length], uint32 masked_crc32c(data)}, all little
 * endian. Format: tensorflow/core/lib/io/record_writer.cc; the mask:
 * tensorflow/core/lib/hash/crc32c.h.
 */
public final class TfRecords {
  /** Bytes before a record's data: the length and its CRC. */
  static final int HEADER = 12;

  /** Bytes after a record's data: the data's CRC. */
  static final int FOOTER = 4;

  private static final int MASK_DELTA = 0xa282ead8;

  private TfRecords() {}

  /** One record: where it starts in its file, and its data (an encoded Event). */
  public record Record(long offset, byte[] data) {}

  /**
   * The records of a file, with the interrupted last one (if any) said apart: a writer killed in
   * the middle of a record leaves a torn tail, which a resumed run drops and a checking reader
   * refuses.
   */
  public record Contents(List<Record> records, long tornTailOffset) {
    /** Whether the file ends in the middle of a record. */
    public boolean torn() {
      return tornTailOffset >= 0;
    }
  }

  /**
   * The masked CRC32C TFRecord stores: the CRC rotated right by 15 bits plus a constant, because a
   * CRC of data that itself holds CRCs (a record inside a record) is weak otherwise.
   */
  static int maskedCrc32c(byte[] bytes, int offset, int length) {
    CRC32C crc = new CRC32C();
    crc.update(bytes, offset, length);
    int c = (int) crc.getValue();
    return ((c >>> 15) | (c << 17)) + MASK_DELTA;
  }

  /** The framed bytes of one record. */
  static byte[] frame(byte[] data) {
    ByteBuffer b =
        ByteBuffer.allocate(HEADER + data.length + FOOTER).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(data.length);
    b.putInt(maskedCrc32c(b.array(), 0, 8));
    b.put(data);
    b.putInt(maskedCrc32c(data, 0, data.length));
    return b.array();
  }

  /** Writes one framed record. */
  static void write(OutputStream out, byte[] data) throws IOException {
    out.write(frame(data));
  }

  /**
   * Reads every record of {@code file}, checking both CRCs of each.
   *
   * @throws IOException naming the file and the record's byte offset when a CRC does not match or a
   *     length is impossible; a torn tail is returned in {@link Contents}, not thrown
   */
  public static Contents read(Path file) throws IOException {
    return read(file, false);
  }

  /**
   * As {@link #read(Path)}; {@code tailTolerant} makes a record that fails its checks the end of
   * the file, returned as a torn tail: what a power loss leaves (zero-filled blocks after the last
   * record written whole), which a resume drops, as TensorBoard's own reader skips it.
   */
  static Contents read(Path file, boolean tailTolerant) throws IOException {
    try {
      return readStrict(file);
    } catch (Damaged d) {
      if (!tailTolerant) {
        throw new IOException(d.getMessage());
      }
      return new Contents(d.before, d.offset);
    }
  }

  /** A record that fails its checks, with the records before it. */
  private static final class Damaged extends Exception {
    final List<Record> before;
    final long offset;

    Damaged(String message, List<Record> before, long offset) {
      super(message, null, false, false);
      this.before = before;
      this.offset = offset;
    }
  }

  private static Contents readStrict(Path file) throws IOException, Damaged {
    byte[] bytes = Files.readAllBytes(file);
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    List<Record> records = new ArrayList<>();
    int at = 0;
    while (at < bytes.length) {
      if (bytes.length - at < HEADER) {
        return new Contents(records, at);
      }
      long length = b.getLong(at);
      if (b.getInt(at + 8) != maskedCrc32c(bytes, at, 8)) {
        throw new Damaged(
            file + ": record at byte " + at + ": the length's CRC does not match (corrupt file)",
            records,
            at);
      }
      if (length < 0 || length > bytes.length) {
        throw new Damaged(
            file
                + ": record at byte "
                + at
                + ": impossible length "
                + Long.toUnsignedString(length),
            records,
            at);
      }
      if (bytes.length - at - HEADER - FOOTER < length) {
        return new Contents(records, at);
      }
      int data = at + HEADER;
      int n = (int) length;
      if (b.getInt(data + n) != maskedCrc32c(bytes, data, n)) {
        throw new Damaged(
            file + ": record at byte " + at + ": the data's CRC does not match (corrupt file)",
            records,
            at);
      }
      byte[] copy = new byte[n];
      System.arraycopy(bytes, data, copy, 0, n);
      records.add(new Record(at, copy));
      at = data + n + FOOTER;
    }
    return new Contents(records, -1);
  }
}
