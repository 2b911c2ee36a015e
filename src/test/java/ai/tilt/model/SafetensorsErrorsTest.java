package ai.tilt.model;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.tilt.model.Safetensors.FloatTensor;
import ai.tilt.runtime.Torch;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Every malformed checkpoint gives a {@link SafetensorsException} that says what and where. */
class SafetensorsErrorsTest {
  @TempDir Path tmp;

  /** A file made by hand: u64 header length, header text, then {@code dataBytes} zero bytes. */
  private Path file(String name, long declaredLength, String header, int dataBytes)
      throws IOException {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(declaredLength).put(h);
    Path p = tmp.resolve(name);
    Files.write(p, b.array());
    return p;
  }

  private Path file(String name, String header, int dataBytes) throws IOException {
    return file(name, header.getBytes(StandardCharsets.UTF_8).length, header, dataBytes);
  }

  private static void fails(Executable action, String... mustMention) {
    SafetensorsException e = assertThrows(SafetensorsException.class, action);
    for (String s : mustMention) {
      assertTrue(e.getMessage().contains(s), "'" + e.getMessage() + "' should mention " + s);
    }
  }

  @Test
  void fileShorterThanLengthPrefix() throws IOException {
    Path p = tmp.resolve("short.safetensors");
    Files.write(p, new byte[] {1, 2, 3, 4, 5});
    fails(() -> Safetensors.open(p), p.toString(), "too short");
  }

  @Test
  void headerLongerThanFile() throws IOException {
    Path p = file("cut.safetensors", 1000, "{}", 0);
    fails(() -> Safetensors.open(p), p.toString(), "truncated");
  }

  @Test
  void absurdHeaderLength() throws IOException {
    Path huge = file("huge.safetensors", 1L << 40, "{}", 0);
    fails(() -> Safetensors.open(huge), huge.toString(), "absurd");
    Path negative = file("neg.safetensors", -1L, "{}", 0);
    fails(() -> Safetensors.open(negative), negative.toString(), "absurd", "18446744073709551615");
  }

  @Test
  void invalidJsonHeader() throws IOException {
    Path p = file("json.safetensors", "{\"a\": [1,", 0);
    fails(() -> Safetensors.open(p), p.toString(), "invalid JSON header");
    Path array = file("array.safetensors", "[1, 2]  ", 0);
    fails(() -> Safetensors.open(array), array.toString(), "not a JSON object");
    Path dup =
        file(
            "dup.safetensors",
            "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
            4);
    fails(() -> Safetensors.open(dup), dup.toString(), "w");
  }

  @Test
  void offsetsThatDisagreeWithShape() throws IOException {
    Path p =
        file(
            "mismatch.safetensors",
            "{\"layer.w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}",
            24);
    fails(() -> Safetensors.open(p), p.toString(), "layer.w", "header/shape mismatch");
    Path missing = file("keys.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4);
    fails(() -> Safetensors.open(missing), missing.toString(), "w", "data_offsets");
  }

  @Test
  void dataPastEndOfFile() throws IOException {
    Path p =
        file(
            "trunc.safetensors",
            "{\"emb\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}",
            12);
    fails(() -> Safetensors.open(p), p.toString(), "emb", "past the end");
  }

  @Test
  void truncatedRealCheckpoint() throws Exception {
    Path src = Path.of(getClass().getResource("/fixtures/hf-tiny/gpt2/model.safetensors").toURI());
    Path p = tmp.resolve("gpt2-cut.safetensors");
    Files.copy(src, p);
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() - 100);
    }
    fails(() -> Safetensors.open(p), p.toString(), "past the end");
  }

  @Test
  void unknownDtypeIsNamed() throws IOException {
    Path p =
        file(
            "dtype.safetensors",
            "{\"q\":{\"dtype\":\"F7\",\"shape\":[1],\"data_offsets\":[0,1]}}",
            1);
    fails(() -> Safetensors.open(p), p.toString(), "q", "unknown dtype F7");
  }

  @Test
  void dtypesDjlCannotHoldAreRefusedNotCrashed() throws IOException {
    Path p =
        file(
            "u64.safetensors",
            "{\"n\":{\"dtype\":\"U64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
            8);
    Torch.init();
    try (SafetensorsReader r = Safetensors.open(p);
        NDManager m = NDManager.newBaseManager()) {
      fails(() -> r.load("n", m), p.toString(), "n", "U64");
      fails(() -> r.loadFloats("n"), p.toString(), "U64");
    }
  }

  @Test
  void missingTensorIsNamed() throws Exception {
    Path p = tmp.resolve("ok.safetensors");
    Safetensors.writeFloats(
        p, Map.of("a", new FloatTensor(new long[] {1}, new float[] {1})), "F32", null);
    try (SafetensorsReader r = Safetensors.open(p)) {
      fails(() -> r.loadFloats("lm_head.weight"), "lm_head.weight", p.toString());
      fails(() -> r.info("lm_head.weight"), "lm_head.weight", p.toString());
    }
  }

  @Test
  void shardIndexProblems() throws Exception {
    Path dir = tmp.resolve("sharded");
    // Ordered, so that "b" is the one in the second shard.
    Map<String, FloatTensor> t = new LinkedHashMap<>();
    t.put("a", new FloatTensor(new long[] {4}, new float[] {1, 2, 3, 4}));
    t.put("b", new FloatTensor(new long[] {4}, new float[] {5, 6, 7, 8}));
    Safetensors.writeShardedFloats(dir, t, "F32", 16, Map.of());
    Path index = dir.resolve(Safetensors.INDEX_FILE);
    try (SafetensorsReader r = Safetensors.open(dir)) {
      fails(() -> r.loadFloats("c"), "c", index.toString());
    }

    String text = Files.readString(index);
    Files.writeString(index, text.replace("\"b\": \"model-00002", "\"z\": \"model-00002"));
    fails(() -> Safetensors.open(dir), "z", "model-00002-of-00002.safetensors", index.toString());

    Files.writeString(index, text);
    Path shard2 = dir.resolve("model-00002-of-00002.safetensors");
    Files.delete(shard2);
    fails(() -> Safetensors.open(dir), shard2.toString(), index.toString(), "missing");

    Files.writeString(index, text.replace("model-00002-of-00002", "../escape"));
    fails(() -> Safetensors.open(index), "escape", index.toString());

    Files.writeString(index, "{\"metadata\": {}}");
    fails(() -> Safetensors.open(index), index.toString(), "weight_map");
  }

  @Test
  void directoryWithoutCheckpoint() {
    fails(() -> Safetensors.open(tmp), tmp.toString(), Safetensors.SINGLE_FILE);
    fails(() -> Safetensors.open(tmp.resolve("nope.safetensors")), "nope.safetensors", "not found");
  }
}
