package ai.tilt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.tilt.model.Safetensors.Dtype;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads tensors from a safetensors checkpoint (one file or an HF shard index) one at a time.
 *
 * <p>Opening parses only the JSON headers. Each {@link #load} reads just that tensor's bytes, in
 * chunks of bounded size through reused direct buffers, and converts them into a fresh
 * libtorch-owned array; so neither the Java heap nor a file mapping ever holds the weights (mapped
 * pages would count in the process's memory until collected). Not thread-safe: the buffers are
 * reused across loads.
 */
public final class SafetensorsReader implements AutoCloseable {
  private final Path source;
  private final Map<String, TensorInfo> tensors;
  private final Map<String, String> metadata;
  private final Map<Path, FileChannel> channels;

  /** Elements converted per step; small in tests to exercise the multi-chunk path. */
  private final int chunkElements;

  private ByteBuffer scratch; // converted elements, handed to libtorch
  private ByteBuffer raw; // bytes as read from the file

  private SafetensorsReader(
      Path source,
      Map<String, TensorInfo> tensors,
      Map<String, String> metadata,
      Map<Path, FileChannel> channels,
      int chunkElements) {
    this.source = source;
    this.tensors = Collections.unmodifiableMap(tensors);
    this.metadata = Collections.unmodifiableMap(metadata);
    this.channels = channels;
    this.chunkElements = chunkElements;
  }

  /** See {@link Safetensors#open}. */
  public static SafetensorsReader open(Path fileOrDir) throws IOException {
    return open(fileOrDir, 4 << 20);
  }

  static SafetensorsReader open(Path fileOrDir, int chunkElements) throws IOException {
    if (chunkElements < 1) {
      throw new IllegalArgumentException("chunkElements must be positive");
    }
    Path path = fileOrDir;
    if (Files.isDirectory(path)) {
      if (Files.isRegularFile(path.resolve(Safetensors.SINGLE_FILE))) {
        path = path.resolve(Safetensors.SINGLE_FILE);
      } else if (Files.isRegularFile(path.resolve(Safetensors.INDEX_FILE))) {
        path = path.resolve(Safetensors.INDEX_FILE);
      } else {
        throw error(
            "no %s or %s in directory %s",
            Safetensors.SINGLE_FILE, Safetensors.INDEX_FILE, fileOrDir);
      }
    }
    if (!Files.isRegularFile(path)) {
      throw new SafetensorsException("safetensors file not found: " + path);
    }
    Map<Path, FileChannel> channels = new HashMap<>();
    try {
      Map<String, String> metadata = new LinkedHashMap<>();
      Map<String, TensorInfo> tensors =
          path.getFileName().toString().endsWith(".json")
              ? SafetensorsHeader.readIndex(path, channels, metadata)
              : SafetensorsHeader.read(path, channels, metadata);
      return new SafetensorsReader(path, tensors, metadata, channels, chunkElements);
    } catch (IOException | RuntimeException e) {
      closeAll(channels.values(), e);
      throw e;
    }
  }

  /** The file or index this reader was opened on. */
  public Path source() {
    return source;
  }

  /** All tensors, by name, in header (or index) order. */
  public Map<String, TensorInfo> tensors() {
    return tensors;
  }

  /**
   * The {@code __metadata__} strings (for a sharded checkpoint: the index's {@code metadata}, such
   * as {@code total_size}, over the shards' own).
   */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** Whether the checkpoint holds a tensor called {@code name}. */
  public boolean contains(String name) {
    return tensors.containsKey(name);
  }

  /** The header entry for {@code name}; fails with a message naming the tensor and file. */
  public TensorInfo info(String name) throws SafetensorsException {
    TensorInfo info = tensors.get(name);
    if (info == null) {
      throw new SafetensorsException("tensor " + name + " not found in " + source);
    }
    return info;
  }

  /**
   * Loads one tensor into a new array owned by {@code manager}. Floating-point tensors (F32, F16,
   * BF16, F64) come back as FLOAT32; I64/I32/I8/U8/BOOL as their DJL type; I16/U16 as INT32 and U32
   * as INT64. U64 and F8 tensors are refused. The array's name is the tensor name.
   */
  public NDArray load(String name, NDManager manager) throws IOException {
    TensorInfo info = info(name);
    Dtype dtype = loadable(info);
    DataType out = dtype.loadAs;
    long numel = info.numel();
    // the array is made in its shape and filled through a flat view of it: an array returned as a
    // view (a reshape of a flat one) would keep its base's storage alive after ZeRO-1 moves the
    // weight into its flat vector (measured: the whole weight again)
    NDArray result = manager.create(new Shape(info.shape()), out);
    try (NDArray flat = result.reshape(new Shape(numel))) {
      for (long from = 0; from < numel; from += chunkElements) {
        int count = (int) Math.min(chunkElements, numel - from);
        ByteBuffer converted = convertChunk(info, dtype, from, count, out.getNumOfBytes());
        try (NDArray part = manager.create(converted, new Shape(count), out)) {
          flat.set(new NDIndex("{}:{}", from, from + count), part);
        }
      }
    } catch (RuntimeException | IOException e) {
      result.close();
      throw e;
    }
    result.setName(name);
    return result;
  }

  /**
   * Loads one tensor into a Java array (float types widened or narrowed to float, integers and
   * booleans converted). Meant for small tensors and checks; at most 2^31-1 elements.
   */
  public float[] loadFloats(String name) throws IOException {
    TensorInfo info = info(name);
    Dtype dtype = loadable(info);
    long numel = info.numel();
    if (numel > Integer.MAX_VALUE - 8) {
      throw error(
          "tensor %s in file %s has %d elements, too many for a Java array",
          name, info.file(), numel);
    }
    float[] values = new float[(int) numel];
    for (long from = 0; from < numel; from += chunkElements) {
      int count = (int) Math.min(chunkElements, numel - from);
      ByteBuffer src = read(info, from * dtype.size, count * dtype.size);
      for (int i = 0; i < count; i++) {
        values[(int) from + i] = Safetensors.getFloat(dtype, src);
      }
    }
    return values;
  }

  /** The tensor's dtype, if Tilt can load it (the ones DJL cannot hold losslessly are refused). */
  private static Dtype loadable(TensorInfo info) throws SafetensorsException {
    Dtype dtype = Dtype.valueOf(info.dtype());
    if (dtype.loadAs == null) {
      throw error(
          "tensor %s in file %s has dtype %s, which Tilt cannot load",
          info.name(), info.file(), dtype);
    }
    return dtype;
  }

  private static SafetensorsException error(String format, Object... args) {
    return new SafetensorsException(String.format(format, args));
  }

  /** Converts {@code count} elements starting at {@code from} into the scratch buffer. */
  private ByteBuffer convertChunk(TensorInfo info, Dtype dtype, long from, int count, int outSize)
      throws IOException {
    ByteBuffer src = read(info, from * dtype.size, count * dtype.size);
    int bytes = count * outSize;
    if (scratch == null || scratch.capacity() < bytes) {
      // Direct, so DJL hands its address to libtorch instead of copying it once more.
      scratch = ByteBuffer.allocateDirect(Math.max(bytes, 1)).order(ByteOrder.LITTLE_ENDIAN);
    }
    ByteBuffer dst = scratch.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    dst.clear().limit(bytes);
    switch (dtype) {
      case F32:
      case I64:
      case I32:
      case I8:
      case U8:
      case BOOL:
        dst.put(src);
        break;
      case F64:
      case F16:
      case BF16:
        for (int i = 0; i < count; i++) {
          dst.putFloat(Safetensors.getFloat(dtype, src));
        }
        break;
      case I16:
        for (int i = 0; i < count; i++) {
          dst.putInt(src.getShort());
        }
        break;
      case U16:
        for (int i = 0; i < count; i++) {
          dst.putInt(src.getShort() & 0xffff);
        }
        break;
      case U32:
        for (int i = 0; i < count; i++) {
          dst.putLong(src.getInt() & 0xffffffffL);
        }
        break;
      default:
        throw new IllegalStateException("unhandled dtype " + dtype);
    }
    dst.flip();
    return dst;
  }

  /**
   * Reads {@code length} bytes of the tensor starting {@code offset} bytes into its data, into a
   * buffer reused across reads. Reading, not mapping: mapped pages count in the process's resident
   * memory until the mapping is collected, which doubled the peak of loading a model (a 2 GB model
   * peaked at 4 GB before the weights were even used).
   */
  private ByteBuffer read(TensorInfo info, long offset, int length) throws IOException {
    FileChannel ch = channels.get(info.file());
    if (ch == null || !ch.isOpen()) {
      throw new SafetensorsException("reader for " + source + " is closed");
    }
    if (raw == null || raw.capacity() < length) {
      raw = ByteBuffer.allocateDirect(Math.max(length, 1)).order(ByteOrder.LITTLE_ENDIAN);
    }
    ByteBuffer b = raw.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    b.clear().limit(length);
    long at = info.offset() + offset;
    while (b.hasRemaining()) {
      if (ch.read(b, at + b.position()) < 0) {
        throw error("file %s ends inside tensor %s", info.file(), info.name());
      }
    }
    b.flip();
    return b;
  }

  /** Closes the files; arrays already loaded stay valid (they never alias the mapping). */
  @Override
  public void close() throws IOException {
    List<FileChannel> all = new ArrayList<>(channels.values());
    channels.clear();
    scratch = null;
    raw = null;
    IOException first = null;
    for (FileChannel ch : all) {
      try {
        ch.close();
      } catch (IOException e) {
        if (first == null) {
          first = e;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }

  private static void closeAll(Iterable<FileChannel> chans, Exception primary) {
    for (FileChannel ch : chans) {
      try {
        ch.close();
      } catch (IOException e) {
        primary.addSuppressed(e);
      }
    }
  }
}
