package ai.tilt.model;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * One tensor of a safetensors checkpoint as its header describes it: the on-disk dtype name (e.g.
 * {@code "BF16"}), its shape, the file that holds it and where its bytes lie in that file.
 *
 * @param name tensor name, e.g. {@code transformer.h.0.attn.c_attn.weight}
 * @param dtype safetensors dtype name as written in the header, e.g. {@code F32}, {@code BF16}
 * @param shape dimensions, row-major; empty for a scalar
 * @param file the {@code .safetensors} file (a shard for sharded checkpoints)
 * @param offset absolute byte offset of the first element in {@code file}
 * @param byteLength number of bytes the tensor occupies
 */
public record TensorInfo(
    String name, String dtype, long[] shape, Path file, long offset, long byteLength) {

  /** Copies {@code shape} so that the record stays immutable. */
  public TensorInfo {
    shape = shape.clone();
  }

  /** Returns a copy of the shape; callers may not change the record through it. */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** Number of elements (1 for a scalar, 0 if any dimension is 0). */
  public long numel() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorInfo t
        && name.equals(t.name)
        && dtype.equals(t.dtype)
        && Arrays.equals(shape, t.shape)
        && file.equals(t.file)
        && offset == t.offset
        && byteLength == t.byteLength;
  }

  @Override
  public int hashCode() {
    return 31 * (31 * name.hashCode() + dtype.hashCode()) + Arrays.hashCode(shape);
  }

  @Override
  public String toString() {
    return name + " " + dtype + Arrays.toString(shape) + " in " + file;
  }
}
