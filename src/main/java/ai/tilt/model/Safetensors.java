package ai.tilt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Entry point for HuggingFace safetensors checkpoints: reading (single file, directory or sharded
 * index) and writing (single file or HF-style shards), plus the float16/bfloat16 conversions.
 *
 * <p>Tilt does not use DJL's own safetensors support ({@code NDList.decode}) because it reads the
 * whole file into the Java heap and, worse, aborts the JVM on any BF16 tensor (DJL 0.36 maps only
 * dtypes it knows to libtorch; shared/notes/djl.md sections 4-5). Here BF16 and F16 are converted
 * to and from F32 in Java, so DJL only ever sees dtypes it supports.
 */
public final class Safetensors {
  /** File name of an unsharded checkpoint inside a model directory. */
  public static final String SINGLE_FILE = "model.safetensors";

  /** File name of the shard index (name to shard file) inside a model directory. */
  public static final String INDEX_FILE = "model.safetensors.index.json";

  private Safetensors() {}

  /**
   * Opens a {@code .safetensors} file, a {@code model.safetensors.index.json}, or a directory
   * holding either (the single file wins, as in transformers). Only headers are read here.
   */
  public static SafetensorsReader open(Path fileOrDir) throws IOException {
    return SafetensorsReader.open(fileOrDir);
  }

  /**
   * Writes {@code tensors} (in map iteration order) to one file, atomically. Float arrays (F32,
   * F64, F16) are stored as {@code dtype}; integer and boolean arrays keep their own type.
   *
   * @param dtype {@code "F32"}, {@code "F16"} or {@code "BF16"}
   * @param metadata stored in {@code __metadata__}; {@code format=pt} is always added
   */
  public static void write(
      Path file, Map<String, NDArray> tensors, String dtype, Map<String, String> metadata)
      throws IOException {
    SafetensorsWriter.writeFile(file, SafetensorsWriter.fromArrays(tensors), dtype, metadata);
  }

  /** Same as {@link #write} for tensors held in Java float arrays (no DJL needed). */
  public static void writeFloats(
      Path file, Map<String, FloatTensor> tensors, String dtype, Map<String, String> metadata)
      throws IOException {
    SafetensorsWriter.writeFile(file, SafetensorsWriter.fromFloats(tensors), dtype, metadata);
  }

  /**
   * Writes a checkpoint directory the way transformers' {@code save_pretrained} does: one {@code
   * model.safetensors} if everything fits in {@code maxShardBytes}, otherwise {@code
   * model-00001-of-0000N.safetensors} files plus {@code model.safetensors.index.json}. Shard files
   * of an earlier save that the new one does not use are deleted afterwards.
   *
   * @return the files written, shards first and the index (if any) last
   */
  public static List<Path> writeSharded(
      Path dir,
      Map<String, NDArray> tensors,
      String dtype,
      long maxShardBytes,
      Map<String, String> metadata)
      throws IOException {
    return SafetensorsWriter.writeSharded(
        dir, SafetensorsWriter.fromArrays(tensors), dtype, maxShardBytes, metadata);
  }

  /** Same as {@link #writeSharded} for tensors held in Java float arrays. */
  public static List<Path> writeShardedFloats(
      Path dir,
      Map<String, FloatTensor> tensors,
      String dtype,
      long maxShardBytes,
      Map<String, String> metadata)
      throws IOException {
    return SafetensorsWriter.writeSharded(
        dir, SafetensorsWriter.fromFloats(tensors), dtype, maxShardBytes, metadata);
  }

  /**
   * A tensor held in a Java array, row-major.
   *
   * @param shape dimensions; their product must equal {@code values.length}
   * @param values the elements
   */
  public record FloatTensor(long[] shape, float[] values) {
    /** Checks that the shape matches the number of values. */
    public FloatTensor {
      long n = 1;
      for (long d : shape) {
        if (d < 0) {
          throw new IllegalArgumentException("negative dimension in shape");
        }
        n *= d;
      }
      if (n != values.length) {
        throw new IllegalArgumentException(
            "shape holds " + n + " elements but " + values.length + " values were given");
      }
    }
  }

  /** Widens a bfloat16 bit pattern to float32; exact, since bf16 is the top half of f32. */
  public static float bf16ToFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }

  /**
   * Narrows float32 to bfloat16 bits, rounding to nearest even like torch. Values past the largest
   * bf16 become infinity; NaN stays NaN (quiet, sign kept) instead of rounding into infinity.
   */
  public static short floatToBf16(float value) {
    int x = Float.floatToRawIntBits(value);
    if ((x & 0x7fffffff) > 0x7f800000) {
      return (short) ((x >>> 16) | 0x0040);
    }
    int roundingBias = 0x7fff + ((x >>> 16) & 1);
    return (short) ((x + roundingBias) >>> 16);
  }

  /** Widens IEEE half-precision bits to float32 (exact, including subnormals, inf and NaN). */
  public static float f16ToFloat(short bits) {
    int h = bits & 0xffff;
    int sign = (h & 0x8000) << 16;
    int exp = (h >>> 10) & 0x1f;
    int mant = h & 0x3ff;
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    if (exp != 0) {
      // Rebias the exponent from 15 to 127.
      return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }
    float subnormal = mant * 0x1p-24f;
    return sign != 0 ? -subnormal : subnormal;
  }

  /**
   * Narrows float32 to IEEE half-precision bits with round-to-nearest-even, producing subnormals
   * below 2^-14 and infinity from 65520 up (Java 17 has no {@code Float.floatToFloat16}).
   */
  public static short floatToF16(float value) {
    int x = Float.floatToRawIntBits(value);
    int sign = (x >>> 16) & 0x8000;
    int abs = x & 0x7fffffff;
    if (abs >= 0x7f800000) {
      if (abs == 0x7f800000) {
        return (short) (sign | 0x7c00);
      }
      return (short) (sign | 0x7e00 | ((abs >>> 13) & 0x3ff));
    }
    if (abs >= 0x477ff000) {
      // 65520 is the midpoint between 65504 (max half) and 65536; ties go to the even side, inf.
      return (short) (sign | 0x7c00);
    }
    if (abs >= 0x38800000) {
      int rebiased = abs - 0x38000000;
      int rounded = rebiased + 0xfff + ((rebiased >>> 13) & 1);
      return (short) (sign | (rounded >>> 13));
    }
    int exp = abs >>> 23;
    if (exp < 102) {
      // Below 2^-25 (half the smallest subnormal): rounds to zero.
      return (short) sign;
    }
    // Subnormal half: value / 2^-24, rounded to nearest even. shift is 14..24 here.
    int mant = (abs & 0x7fffff) | 0x800000;
    int shift = 126 - exp;
    int m = mant >>> shift;
    int rest = mant & ((1 << shift) - 1);
    int half = 1 << (shift - 1);
    if (rest > half || (rest == half && (m & 1) == 1)) {
      m++;
    }
    return (short) (sign | m);
  }

  /**
   * The element types of the safetensors format and the DJL type each is loaded as. {@code loadAs}
   * is never one that DJL 0.36 aborts the JVM on (BF16, I16, U16, U32, U64); it is null where no
   * lossless supported type exists.
   */
  enum Dtype {
    F64(8, DataType.FLOAT32),
    F32(4, DataType.FLOAT32),
    F16(2, DataType.FLOAT32),
    BF16(2, DataType.FLOAT32),
    I64(8, DataType.INT64),
    I32(4, DataType.INT32),
    I16(2, DataType.INT32),
    I8(1, DataType.INT8),
    U64(8, null),
    U32(4, DataType.INT64),
    U16(2, DataType.INT32),
    U8(1, DataType.UINT8),
    BOOL(1, DataType.BOOLEAN),
    F8_E4M3(1, null),
    F8_E5M2(1, null);

    final int size;
    final DataType loadAs;

    Dtype(int size, DataType loadAs) {
      this.size = size;
      this.loadAs = loadAs;
    }

    boolean isFloat() {
      return loadAs == DataType.FLOAT32;
    }

    /** The header name; null if the format has no such dtype (or Tilt does not know it). */
    static Dtype parse(String name) {
      try {
        return valueOf(name);
      } catch (IllegalArgumentException e) {
        return null;
      }
    }

    /** Parses a target dtype for writing: only F32, F16 and BF16. */
    static Dtype parseStorage(String name) {
      String upper = name == null ? "" : name.toUpperCase(Locale.ROOT);
      switch (upper) {
        case "F32":
          return F32;
        case "F16":
          return F16;
        case "BF16":
          return BF16;
        default:
          throw new IllegalArgumentException(
              "unsupported storage dtype '" + name + "': expected F32, F16 or BF16");
      }
    }

    /** The safetensors dtype that holds a DJL array as is; null for types Tilt cannot write. */
    static Dtype of(DataType type) {
      switch (type) {
        case FLOAT32:
          return F32;
        case FLOAT64:
          return F64;
        case FLOAT16:
          return F16;
        case INT64:
          return I64;
        case INT32:
          return I32;
        case INT8:
          return I8;
        case UINT8:
          return U8;
        case BOOLEAN:
          return BOOL;
        default:
          return null;
      }
    }
  }

  /** Reads one element of {@code type} (little-endian {@code src}) as a float. */
  static float getFloat(Dtype type, ByteBuffer src) {
    switch (type) {
      case F32:
        return src.getFloat();
      case F64:
        return (float) src.getDouble();
      case F16:
        return f16ToFloat(src.getShort());
      case BF16:
        return bf16ToFloat(src.getShort());
      case I64:
        return src.getLong();
      case I32:
        return src.getInt();
      case I16:
        return src.getShort();
      case I8:
        return src.get();
      case U32:
        return src.getInt() & 0xffffffffL;
      case U16:
        return src.getShort() & 0xffff;
      case U8:
        return src.get() & 0xff;
      case BOOL:
        return src.get() != 0 ? 1f : 0f;
      default:
        throw new IllegalStateException("no float view of " + type);
    }
  }

  /** Writes one float as {@code type} (F32, F16 or BF16) to little-endian {@code dst}. */
  static void putFloat(Dtype type, ByteBuffer dst, float value) {
    switch (type) {
      case F32:
        dst.putFloat(value);
        break;
      case F16:
        dst.putShort(floatToF16(value));
        break;
      case BF16:
        dst.putShort(floatToBf16(value));
        break;
      default:
        throw new IllegalStateException("cannot store floats as " + type);
    }
  }
}
