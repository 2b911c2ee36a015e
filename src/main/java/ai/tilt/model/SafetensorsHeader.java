package ai.tilt.model;

import ai.tilt.model.Safetensors.Dtype;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Parses and validates safetensors headers and HF shard indexes, so that a malformed checkpoint is
 * rejected when it is opened (with the file, tensor and dtype named) rather than half-way through
 * loading a model.
 */
final class SafetensorsHeader {
  /** The format's own limit: a larger header is a corrupt or hostile file. */
  static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

  static final ObjectMapper JSON =
      new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

  private SafetensorsHeader() {}

  /**
   * Reads an HF shard index and the headers of the shards it names; tensors come in index order.
   * The index's own {@code metadata} (e.g. {@code total_size}) wins over the shards'.
   */
  static Map<String, TensorInfo> readIndex(
      Path index, Map<Path, FileChannel> channels, Map<String, String> metadata)
      throws IOException {
    JsonNode root;
    try {
      root = JsonFiles.read(index);
    } catch (IOException e) {
      throw new SafetensorsException("shard index " + e.getMessage(), e);
    }
    JsonNode weightMap = root == null ? null : root.get("weight_map");
    if (weightMap == null || !weightMap.isObject()) {
      throw new SafetensorsException("shard index " + index + " has no weight_map object");
    }
    Path dir = index.toAbsolutePath().getParent();
    Map<Path, Map<String, TensorInfo>> shards = new LinkedHashMap<>();
    Map<String, TensorInfo> tensors = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = weightMap.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String name = e.getKey();
      String shardName = e.getValue().asText();
      Path shard = dir.resolve(shardName).normalize();
      if (!e.getValue().isTextual() || !shard.startsWith(dir.normalize())) {
        throw new SafetensorsException(
            "shard index " + index + " maps tensor " + name + " to invalid file " + e.getValue());
      }
      if (!shards.containsKey(shard)) {
        if (!Files.isRegularFile(shard)) {
          throw new SafetensorsException(
              "shard file " + shard + " listed in " + index + " (tensor " + name + ") is missing");
        }
        shards.put(shard, read(shard, channels, metadata));
      }
      TensorInfo info = shards.get(shard).get(name);
      if (info == null) {
        throw error("tensor %s is mapped to %s by %s but that file lacks it", name, shard, index);
      }
      tensors.put(name, info);
    }
    JsonNode indexMeta = root.get("metadata");
    if (indexMeta != null && indexMeta.isObject()) {
      indexMeta.fields().forEachRemaining(f -> metadata.put(f.getKey(), f.getValue().asText()));
    }
    return tensors;
  }

  /**
   * Opens {@code file} (its channel goes into {@code channels}, for the caller to close), validates
   * its header and returns its tensors in header order; the file's {@code __metadata__} entries are
   * added to {@code metadata} unless already present.
   */
  static Map<String, TensorInfo> read(
      Path file, Map<Path, FileChannel> channels, Map<String, String> metadata) throws IOException {
    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
    channels.put(file, ch);
    long size = ch.size();
    if (size < 8) {
      throw new SafetensorsException(
          "file " + file + " is " + size + " bytes, too short for a safetensors header");
    }
    ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    readFully(ch, lenBuf, 0, file);
    long headerLen = lenBuf.getLong(0);
    if (headerLen < 0 || headerLen > MAX_HEADER_BYTES) {
      throw new SafetensorsException(
          "file " + file + " declares an absurd header length " + Long.toUnsignedString(headerLen));
    }
    if (headerLen > size - 8) {
      throw new SafetensorsException(
          "file " + file + " is truncated: header of " + headerLen + " bytes but file is " + size);
    }
    ByteBuffer headerBuf = ByteBuffer.allocate((int) headerLen);
    readFully(ch, headerBuf, 8, file);
    JsonNode header;
    try {
      header = JSON.readTree(headerBuf.array());
    } catch (IOException e) {
      throw new SafetensorsException("invalid JSON header in file " + file + ": " + e, e);
    }
    if (header == null || !header.isObject()) {
      throw new SafetensorsException("header of file " + file + " is not a JSON object");
    }
    long dataStart = 8 + headerLen;
    Map<String, TensorInfo> result = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      if (e.getKey().equals("__metadata__")) {
        if (e.getValue().isObject()) {
          e.getValue()
              .fields()
              .forEachRemaining(f -> metadata.putIfAbsent(f.getKey(), f.getValue().asText()));
        }
        continue;
      }
      result.put(e.getKey(), parseEntry(file, e.getKey(), e.getValue(), dataStart, size));
    }
    return result;
  }

  private static TensorInfo parseEntry(
      Path file, String name, JsonNode node, long dataStart, long fileSize)
      throws SafetensorsException {
    String where = "tensor " + name + " in file " + file;
    JsonNode dtypeNode = node.get("dtype");
    JsonNode shapeNode = node.get("shape");
    JsonNode offsets = node.get("data_offsets");
    if (dtypeNode == null
        || !dtypeNode.isTextual()
        || shapeNode == null
        || !shapeNode.isArray()
        || offsets == null
        || !offsets.isArray()
        || offsets.size() != 2) {
      throw new SafetensorsException(where + ": header entry needs dtype, shape and data_offsets");
    }
    String dtypeName = dtypeNode.asText();
    Dtype dtype = Dtype.parse(dtypeName);
    if (dtype == null) {
      throw new SafetensorsException(where + ": unknown dtype " + dtypeName);
    }
    long[] shape = new long[shapeNode.size()];
    long numel = 1;
    for (int i = 0; i < shape.length; i++) {
      JsonNode d = shapeNode.get(i);
      if (!d.canConvertToLong() || !d.isIntegralNumber() || d.asLong() < 0) {
        throw new SafetensorsException(where + ": invalid shape " + shapeNode);
      }
      shape[i] = d.asLong();
      try {
        numel = Math.multiplyExact(numel, shape[i]);
      } catch (ArithmeticException overflow) {
        throw new SafetensorsException(where + ": shape " + shapeNode + " overflows");
      }
    }
    long begin = offsets.get(0).asLong(-1);
    long end = offsets.get(1).asLong(-1);
    if (!offsets.get(0).isIntegralNumber()
        || !offsets.get(1).isIntegralNumber()
        || begin < 0
        || end < begin) {
      throw new SafetensorsException(where + ": invalid data_offsets " + offsets);
    }
    if (numel > Long.MAX_VALUE / dtype.size || end - begin != numel * dtype.size) {
      throw error(
          "%s: header/shape mismatch, data_offsets %s span %d bytes but %s shape %s needs %d",
          where, offsets, end - begin, dtypeName, shapeNode, numel * dtype.size);
    }
    if (end > fileSize - dataStart) {
      throw new SafetensorsException(
          where + ": data_offsets " + offsets + " run past the end of the file (truncated file?)");
    }
    return new TensorInfo(name, dtypeName, shape, file, dataStart + begin, end - begin);
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long position, Path file)
      throws IOException {
    long pos = position;
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos);
      if (n < 0) {
        throw new SafetensorsException("file " + file + " ended early at byte " + pos);
      }
      pos += n;
    }
  }

  private static SafetensorsException error(String format, Object... args) {
    return new SafetensorsException(String.format(format, args));
  }
}
