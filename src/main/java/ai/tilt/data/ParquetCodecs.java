package ai.tilt.data;

import io.airlift.compress.Decompressor;
import io.airlift.compress.lz4.Lz4Decompressor;
import io.airlift.compress.snappy.SnappyDecompressor;
import io.airlift.compress.zstd.ZstdDecompressor;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.zip.GZIPInputStream;
import org.apache.parquet.bytes.BytesInput;
import org.apache.parquet.compression.CompressionCodecFactory;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;

/**
 * Page decompression in pure Java (aircompressor, which parquet-java already depends on, and the
 * JDK's gzip): parquet-java's own factory goes through Hadoop's codec classes, which need Hadoop's
 * configuration machinery and the native snappy-java and zstd-jni jars (the pom says what that
 * weighs). Read only.
 */
final class ParquetCodecs implements CompressionCodecFactory {
  @Override
  public BytesInputDecompressor getDecompressor(CompressionCodecName codec) {
    switch (codec) {
      case UNCOMPRESSED:
        return new Pages(null);
      case SNAPPY:
        return new Pages(new SnappyDecompressor());
      case ZSTD:
        return new Pages(new ZstdDecompressor());
      case LZ4_RAW:
        return new Pages(new Lz4Decompressor());
      case GZIP:
        return new Pages(null) {
          @Override
          byte[] inflate(byte[] src, int size) throws IOException {
            try (InputStream z = new GZIPInputStream(BytesInput.from(src).toInputStream())) {
              return exactly(z.readNBytes(size + 1), size);
            }
          }
        };
      default:
        throw new DataException(
            "Parquet pages compressed with "
                + codec
                + " are not supported (uncompressed, snappy, gzip, zstd and lz4_raw are);"
                + " rewrite the file, e.g. pyarrow.parquet.write_table(t, f, compression='zstd')");
    }
  }

  @Override
  public BytesInputCompressor getCompressor(CompressionCodecName codec) {
    throw new UnsupportedOperationException("Tilt reads Parquet, it does not write it");
  }

  @Override
  public void release() {}

  private static class Pages implements BytesInputDecompressor {
    private final Decompressor codec; // null: stored as is

    Pages(Decompressor codec) {
      this.codec = codec;
    }

    byte[] inflate(byte[] src, int size) throws IOException {
      if (codec == null) {
        return exactly(src, size);
      }
      byte[] out = new byte[size];
      try {
        return exactly(out, codec.decompress(src, 0, src.length, out, 0, size), size);
      } catch (RuntimeException e) { // aircompressor's MalformedInputException and bounds errors
        throw new IOException("corrupt compressed page: " + e.getMessage(), e);
      }
    }

    @Override
    public BytesInput decompress(BytesInput bytes, int size) throws IOException {
      return BytesInput.from(inflate(bytes.toByteArray(), size));
    }

    @Override
    public void decompress(ByteBuffer in, int compressedSize, ByteBuffer out, int size)
        throws IOException {
      byte[] src = new byte[compressedSize];
      in.get(src);
      out.put(inflate(src, size));
    }

    @Override
    public void release() {}
  }

  private static byte[] exactly(byte[] out, int size) throws IOException {
    return exactly(out, out.length, size);
  }

  private static byte[] exactly(byte[] out, int got, int size) throws IOException {
    if (got != size) {
      throw new IOException(
          "a page decompressed to " + got + " bytes where its header says " + size);
    }
    return out.length == size ? out : java.util.Arrays.copyOf(out, size);
  }
}
