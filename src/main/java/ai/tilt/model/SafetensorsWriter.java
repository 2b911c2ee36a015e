package ai.tilt.model;

import ai.djl.ndarray.NDArray;
import ai.tilt.model.Safetensors.Dtype;
import ai.tilt.model.Safetensors.FloatTensor;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * Writes safetensors files and HF-style sharded checkpoints. The header is computed from shapes
 * alone, then tensors are streamed to disk one at a time, so at most one tensor's bytes (plus a
 * small conversion buffer) are held at once. Every file is written under a temporary name, synced
 * and renamed, so a crash never leaves a half-written file under the final name.
 */
final class SafetensorsWriter {
  private static final Pattern SHARD_NAME = Pattern.compile("model-\\d+-of-\\d+\\.safetensors");
  private static final int CONVERT_BYTES = 1 << 20;

  private SafetensorsWriter() {}

  /** Receives a tensor's little-endian bytes, possibly in several pieces. */
  interface ByteSink {
    void accept(ByteBuffer bytes) throws IOException;
  }

  /**
   * One tensor to write.
   *
   * @param dtype element type of the bytes {@code emit} hands to its sink
   * @param emit streams the tensor's little-endian bytes, in order, to a sink
   */
  record Source(String name, long[] shape, Dtype dtype, IoAction<ByteSink> emit) {}

  static List<Source> fromArrays(Map<String, NDArray> tensors) {
    List<Source> sources = new ArrayList<>();
    tensors.forEach(
        (name, array) -> {
          Dtype dtype = Dtype.of(array.getDataType());
          if (dtype == null) {
            // BF16 arrays report UNKNOWN; touching them through DJL may abort the JVM.
            throw new IllegalArgumentException(
                "tensor "
                    + name
                    + " has DJL type "
                    + array.getDataType()
                    + ", which Tilt cannot write");
          }
          long[] shape = array.getShape().getShape();
          sources.add(
              new Source(name, shape, dtype, sink -> sink.accept(array.toByteBuffer(true))));
        });
    return sources;
  }

  static List<Source> fromFloats(Map<String, FloatTensor> tensors) {
    List<Source> sources = new ArrayList<>();
    tensors.forEach(
        (name, t) ->
            sources.add(
                new Source(
                    name,
                    t.shape(),
                    Dtype.F32,
                    sink -> {
                      float[] v = t.values();
                      ByteBuffer buf = ByteBuffer.allocate(CONVERT_BYTES);
                      for (int from = 0; from < v.length; from += CONVERT_BYTES / 4) {
                        int n = Math.min(CONVERT_BYTES / 4, v.length - from);
                        buf.clear();
                        buf.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().put(v, from, n);
                        buf.limit(n * 4);
                        sink.accept(buf);
                      }
                    })));
    return sources;
  }

  static void writeFile(Path file, List<Source> sources, String dtype, Map<String, String> metadata)
      throws IOException {
    Dtype storage = Dtype.parseStorage(dtype);
    atomicWrite(file, ch -> writeTo(ch, file, sources, storage, metadata));
  }

  static List<Path> writeSharded(
      Path dir,
      List<Source> sources,
      String dtype,
      long maxShardBytes,
      Map<String, String> metadata)
      throws IOException {
    Dtype storage = Dtype.parseStorage(dtype);
    if (maxShardBytes <= 0) {
      throw new IllegalArgumentException("maxShardBytes must be positive, got " + maxShardBytes);
    }
    // Same grouping as huggingface_hub's split_torch_state_dict_into_shards: in order, a new shard
    // when the next tensor would overflow, and any tensor larger than the limit alone.
    List<List<Source>> shards = new ArrayList<>();
    List<Source> current = new ArrayList<>();
    long currentSize = 0;
    long totalSize = 0;
    for (Source s : sources) {
      long size = byteSize(s, storage);
      totalSize += size;
      if (size > maxShardBytes) {
        shards.add(List.of(s));
        continue;
      }
      if (currentSize + size > maxShardBytes && !current.isEmpty()) {
        shards.add(current);
        current = new ArrayList<>();
        currentSize = 0;
      }
      current.add(s);
      currentSize += size;
    }
    if (!current.isEmpty() || shards.isEmpty()) {
      shards.add(current);
    }

    Files.createDirectories(dir);
    List<Path> written = new ArrayList<>();
    Path single = dir.resolve(Safetensors.SINGLE_FILE);
    Path index = dir.resolve(Safetensors.INDEX_FILE);
    if (shards.size() == 1) {
      writeFile(single, shards.get(0), dtype, metadata);
      written.add(single);
      Files.deleteIfExists(index);
      deleteStaleShards(dir, Set.of());
      return written;
    }
    Map<String, String> weightMap = new TreeMap<>();
    for (int i = 0; i < shards.size(); i++) {
      String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
      Path shard = dir.resolve(name);
      writeFile(shard, shards.get(i), dtype, metadata);
      written.add(shard);
      shards.get(i).forEach(s -> weightMap.put(s.name(), name));
    }
    // Readers (ours and transformers') prefer model.safetensors over the index: drop a stale one
    // before the index appears.
    Files.deleteIfExists(single);
    ObjectNode root = SafetensorsHeader.JSON.createObjectNode();
    root.putObject("metadata").put("total_size", totalSize);
    ObjectNode map = root.putObject("weight_map");
    weightMap.forEach(map::put);
    // Python's json.dumps(indent=2) layout, so the file diffs cleanly against save_pretrained's.
    DefaultPrettyPrinter pretty =
        new DefaultPrettyPrinter(
            Separators.createDefaultInstance()
                .withObjectFieldValueSpacing(Separators.Spacing.AFTER));
    byte[] json =
        (SafetensorsHeader.JSON.writer(pretty).writeValueAsString(root) + "\n")
            .getBytes(StandardCharsets.UTF_8);
    atomicWrite(index, ch -> writeAll(ch, ByteBuffer.wrap(json)));
    written.add(index);
    Set<String> keep = new HashSet<>(weightMap.values());
    deleteStaleShards(dir, keep);
    return written;
  }

  private static void writeTo(
      FileChannel ch, Path file, List<Source> sources, Dtype storage, Map<String, String> metadata)
      throws IOException {
    ObjectNode header = SafetensorsHeader.JSON.createObjectNode();
    ObjectNode meta = header.putObject("__metadata__");
    if (metadata != null) {
      metadata.forEach(
          (k, v) -> {
            // The format requires string values; Python's reader rejects a file with a null.
            if (k == null || v == null) {
              throw new IllegalArgumentException("null metadata key or value for " + k);
            }
            meta.put(k, v);
          });
    }
    meta.put("format", "pt");
    long offset = 0;
    for (Source s : sources) {
      if (s.name().equals("__metadata__")) {
        throw new IllegalArgumentException("'__metadata__' is reserved and cannot name a tensor");
      }
      long size = byteSize(s, storage);
      ObjectNode entry = header.putObject(s.name());
      entry.put("dtype", outType(s, storage).name());
      ArrayNode shape = entry.putArray("shape");
      Arrays.stream(s.shape()).forEach(shape::add);
      entry.putArray("data_offsets").add(offset).add(offset + size);
      offset += size;
    }
    byte[] json = SafetensorsHeader.JSON.writeValueAsBytes(header);
    // Pad with spaces so the data starts 8-byte aligned, as the reference implementation does.
    int padded = (json.length + 7) & ~7;
    ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
    head.putLong(padded).put(json);
    while (head.hasRemaining()) {
      head.put((byte) ' ');
    }
    head.flip();
    writeAll(ch, head);
    ByteBuffer convert = ByteBuffer.allocate(CONVERT_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    for (Source s : sources) {
      Dtype in = s.dtype();
      Dtype out = outType(s, storage);
      long expected = byteSize(s, storage);
      long[] written = {0};
      s.emit()
          .run(
              bytes -> {
                ByteBuffer src = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
                if (in == out) {
                  written[0] += writeAll(ch, src);
                  return;
                }
                while (src.remaining() >= in.size) {
                  convert.clear();
                  int n = Math.min(src.remaining() / in.size, convert.capacity() / out.size);
                  for (int i = 0; i < n; i++) {
                    Safetensors.putFloat(out, convert, Safetensors.getFloat(in, src));
                  }
                  convert.flip();
                  written[0] += writeAll(ch, convert);
                }
              });
      if (written[0] != expected) {
        throw new SafetensorsException(
            "tensor "
                + s.name()
                + " produced "
                + written[0]
                + " bytes for "
                + file
                + " but its shape needs "
                + expected);
      }
    }
  }

  private static Dtype outType(Source s, Dtype storage) {
    return s.dtype().isFloat() ? storage : s.dtype();
  }

  private static long byteSize(Source s, Dtype storage) {
    long n = outType(s, storage).size;
    for (long d : s.shape()) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  private static long writeAll(FileChannel ch, ByteBuffer buf) throws IOException {
    long n = 0;
    while (buf.hasRemaining()) {
      n += ch.write(buf);
    }
    return n;
  }

  private static void atomicWrite(Path file, IoAction<FileChannel> body) throws IOException {
    Path parent = file.toAbsolutePath().getParent();
    Files.createDirectories(parent);
    Path tmp =
        parent.resolve(
            "."
                + file.getFileName()
                + ".tmp-"
                + ProcessHandle.current().pid()
                + "-"
                + System.nanoTime());
    try {
      try (FileChannel ch =
          FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
        body.run(ch);
        ch.force(true);
      }
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException | RuntimeException | Error e) {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
    syncDirectory(parent);
  }

  /** Makes the rename itself durable; best effort, as not every platform can open a directory. */
  private static void syncDirectory(Path dir) {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException | UnsupportedOperationException ignored) {
      // The data itself is synced; only the rename's durability is left to the OS.
    }
  }

  private static void deleteStaleShards(Path dir, Set<String> keep) throws IOException {
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
      for (Path p : entries) {
        String name = p.getFileName().toString();
        if (SHARD_NAME.matcher(name).matches() && !keep.contains(name)) {
          Files.deleteIfExists(p);
        }
      }
    }
  }

  /** A step that may fail with an IOException. */
  interface IoAction<T> {
    void run(T target) throws IOException;
  }
}
