package ai.tilt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.tilt.model.Safetensors.FloatTensor;
import ai.tilt.runtime.Torch;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writes checkpoints with {@link Safetensors} and reads them back, bit for bit. */
class SafetensorsRoundTripTest {
  @TempDir Path tmp;
  private NDManager manager;

  @BeforeEach
  void start() {
    Torch.init();
    manager = NDManager.newBaseManager();
  }

  @AfterEach
  void stop() {
    manager.close();
  }

  private static int[] bits(float[] v) {
    int[] b = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      b[i] = Float.floatToRawIntBits(v[i]);
    }
    return b;
  }

  private static final float[] SPECIAL = {
    0f,
    -0f,
    1f,
    -2.5f,
    0.1f,
    Float.MIN_VALUE,
    Float.MAX_VALUE,
    Float.NaN,
    Float.POSITIVE_INFINITY,
    Float.NEGATIVE_INFINITY,
    3.0e38f,
    1.00390625f,
  };

  @Test
  void f32IsBitExactForAllShapesAndIntegerTypesKeepTheirs() throws Exception {
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    tensors.put("special", manager.create(SPECIAL));
    tensors.put("random.3d", manager.randomNormal(new Shape(3, 5, 7)));
    tensors.put("scalar", manager.create(42.5f));
    tensors.put("empty", manager.create(new float[0]).reshape(0, 3));
    tensors.put("ids", manager.create(new long[] {Long.MIN_VALUE, -1, 0, 7, Long.MAX_VALUE}));
    tensors.put("ints", manager.create(new int[] {Integer.MIN_VALUE, -3, 9}));
    tensors.put("mask", manager.create(new boolean[] {true, false, true}));
    tensors.put("f64", manager.create(new double[] {1.5, 1e300}));
    Path file = tmp.resolve("a.safetensors");
    Safetensors.write(file, tensors, "F32", Map.of());

    // A tiny chunk size makes every tensor cross several chunks.
    for (int chunk : new int[] {3, 1 << 20}) {
      try (SafetensorsReader r = SafetensorsReader.open(file, chunk)) {
        assertEquals(List.copyOf(tensors.keySet()), List.copyOf(r.tensors().keySet()));
        for (String name : List.of("special", "random.3d", "scalar", "empty")) {
          NDArray back = r.load(name, manager);
          assertEquals(DataType.FLOAT32, back.getDataType());
          assertEquals(tensors.get(name).getShape(), back.getShape(), name);
          assertEquals(name, back.getName());
          int[] expected = bits(tensors.get(name).toFloatArray());
          assertArrayEquals(expected, bits(back.toFloatArray()), name);
          assertArrayEquals(expected, bits(r.loadFloats(name)), name);
        }
        assertArrayEquals(
            new long[] {Long.MIN_VALUE, -1, 0, 7, Long.MAX_VALUE},
            r.load("ids", manager).toLongArray());
        assertEquals("I64", r.tensors().get("ids").dtype());
        assertArrayEquals(
            new int[] {Integer.MIN_VALUE, -3, 9}, r.load("ints", manager).toIntArray());
        assertArrayEquals(
            new boolean[] {true, false, true}, r.load("mask", manager).toBooleanArray());
        assertEquals("BOOL", r.tensors().get("mask").dtype());
        // F64 is stored as the requested float dtype.
        assertEquals("F32", r.tensors().get("f64").dtype());
        assertArrayEquals(new float[] {1.5f, Float.POSITIVE_INFINITY}, r.loadFloats("f64"));
      }
    }
  }

  @Test
  void bf16StoresRoundedBitsAndLoadsAsF32() throws Exception {
    float[] in = {
      1.00390625f, 1.01171875f, 3.0e38f, 3.4e38f, Float.NaN, -0f, 0.1f, Float.MIN_VALUE
    };
    int[] stored = {0x3f80, 0x3f82, 0x7f62, 0x7f80, 0x7fc0, 0x8000, 0x3dcd, 0x0000};
    Path file = tmp.resolve("b.safetensors");
    Safetensors.write(file, Map.of("w", manager.create(in).reshape(2, 4)), "BF16", Map.of());
    assertArrayEquals(stored, rawShorts(file, "w"));
    try (SafetensorsReader r = Safetensors.open(file)) {
      assertEquals("BF16", r.tensors().get("w").dtype());
      NDArray back = r.load("w", manager);
      assertEquals(DataType.FLOAT32, back.getDataType());
      assertEquals(new Shape(2, 4), back.getShape());
      float[] v = back.toFloatArray();
      for (int i = 0; i < in.length; i++) {
        assertEquals(stored[i] << 16, Float.floatToRawIntBits(v[i]), "element " + i);
      }
      assertEquals(1.015625f, v[1]);
      assertEquals(Float.POSITIVE_INFINITY, v[3]);
      assertTrue(Float.isNaN(v[4]));
      assertArrayEquals(bits(v), bits(r.loadFloats("w")));
    }
  }

  @Test
  void f16StoresRoundedBitsIncludingSubnormals() throws Exception {
    float[] in = {1.00048828125f, 65520f, 0x1p-25f, 1.5f * 0x1p-24f, 0.1f, -0f, Float.NaN, 1e-40f};
    int[] stored = {0x3c00, 0x7c00, 0x0000, 0x0002, 0x2e66, 0x8000, 0x7e00, 0x0000};
    Path file = tmp.resolve("h.safetensors");
    Safetensors.writeFloats(file, Map.of("w", new FloatTensor(new long[] {8}, in)), "F16", null);
    assertArrayEquals(stored, rawShorts(file, "w"));
    try (SafetensorsReader r = Safetensors.open(file)) {
      float[] v = r.load("w", manager).toFloatArray();
      assertEquals(1f, v[0]);
      assertEquals(Float.POSITIVE_INFINITY, v[1]);
      assertEquals(0x1p-23f, v[3]);
      assertEquals(0.0999755859375f, v[4]);
      assertEquals(0x80000000, Float.floatToRawIntBits(v[5]));
      assertTrue(Float.isNaN(v[6]));
    }
    // A FLOAT16 array stored as F16 is copied as is.
    NDArray half = manager.create(in).toType(DataType.FLOAT16, false);
    Safetensors.write(file, Map.of("w", half), "F16", Map.of());
    assertArrayEquals(stored, rawShorts(file, "w"));
  }

  @Test
  void headerIsAlignedContiguousAndCarriesMetadata() throws Exception {
    Map<String, FloatTensor> t = new LinkedHashMap<>();
    t.put("a", new FloatTensor(new long[] {3}, new float[] {1, 2, 3}));
    t.put("bb", new FloatTensor(new long[] {1, 1}, new float[] {4}));
    t.put("c", new FloatTensor(new long[] {2, 2}, new float[] {5, 6, 7, 8}));
    Path file = tmp.resolve("m.safetensors");
    Safetensors.writeFloats(file, t, "BF16", Map.of("step", "12", "format", "tf"));
    byte[] bytes = Files.readAllBytes(file);
    long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    assertEquals(0, n % 8, "header length is a multiple of 8");
    JsonNode header = new ObjectMapper().readTree(new String(bytes, 8, (int) n, "UTF-8"));
    assertEquals("pt", header.get("__metadata__").get("format").asText());
    assertEquals("12", header.get("__metadata__").get("step").asText());
    long expectedBegin = 0;
    for (String name : t.keySet()) {
      JsonNode offsets = header.get(name).get("data_offsets");
      assertEquals(expectedBegin, offsets.get(0).asLong(), name);
      expectedBegin = offsets.get(1).asLong();
    }
    assertEquals(bytes.length - 8 - n, expectedBegin, "data fills the rest of the file");
    try (SafetensorsReader r = Safetensors.open(file)) {
      assertEquals(Map.of("format", "pt", "step", "12"), r.metadata());
      assertArrayEquals(new float[] {5, 6, 7, 8}, r.loadFloats("c"));
    }
  }

  /**
   * torch-mixed.safetensors was written once by Python's {@code safetensors.torch.save_file} (torch
   * 2.13): each low-precision tensor sits next to torch's own {@code .float()} of it, so the
   * widening here is checked against libtorch's, on a file DJL itself would crash on.
   */
  @Test
  void readsTorchWrittenBf16F16F64AndIntegers() throws Exception {
    Path file = Path.of(getClass().getResource("/safetensors/torch-mixed.safetensors").toURI());
    try (SafetensorsReader r = Safetensors.open(file)) {
      assertEquals("torch 2.13 save_file", r.metadata().get("source"));
      for (String w : List.of("w.bf16", "w.f16", "w.f64")) {
        assertEquals(w.substring(2).toUpperCase(), r.info(w).dtype());
        NDArray loaded = r.load(w, manager);
        assertEquals(DataType.FLOAT32, loaded.getDataType());
        assertEquals(new Shape(3, 5), loaded.getShape());
        float[] expected = r.loadFloats(w + ".as_f32");
        assertArrayEquals(bits(expected), bits(loaded.toFloatArray()), w);
        assertArrayEquals(bits(expected), bits(r.loadFloats(w)), w);
      }
      NDArray i16 = r.load("ids.i16", manager);
      assertEquals(DataType.INT32, i16.getDataType());
      assertArrayEquals(new int[] {-32768, -1, 0, 32767}, i16.toIntArray());
      assertArrayEquals(new byte[] {0, 1, (byte) 255}, r.load("ids.u8", manager).toByteArray());
      assertArrayEquals(new float[] {0, 1, 255}, r.loadFloats("ids.u8"));
      assertArrayEquals(new long[] {-(1L << 40), 5}, r.load("ids.i64", manager).toLongArray());
      assertArrayEquals(
          new boolean[] {true, false, true}, r.load("mask", manager).toBooleanArray());
    }
  }

  @Test
  void djlOwnSafetensorsDecoderReadsOurF32Files() throws Exception {
    NDArray w = manager.randomNormal(new Shape(4, 6));
    Path file = tmp.resolve("d.safetensors");
    Safetensors.write(file, Map.of("w", w), "F32", Map.of());
    try (InputStream in = Files.newInputStream(file)) {
      NDList list = NDList.decode(manager, in);
      assertEquals("w", list.get(0).getName());
      assertArrayEquals(bits(w.toFloatArray()), bits(list.get(0).toFloatArray()));
    }
  }

  @Test
  void shardsLikeSavePretrainedAndLoadsThroughTheIndex() throws Exception {
    Map<String, NDArray> tensors = new LinkedHashMap<>();
    for (int i = 0; i < 10; i++) {
      tensors.put("layer." + i + ".w", manager.randomNormal(new Shape(10, 100))); // 4000 bytes
    }
    tensors.put("big", manager.randomNormal(new Shape(5000))); // 20000 bytes: a shard of its own
    tensors.put("tail", manager.create(new long[] {1, 2, 3}));
    Path dir = tmp.resolve("ckpt");
    List<Path> files = Safetensors.writeSharded(dir, tensors, "F32", 10_000, Map.of("note", "x"));

    // HF grouping: two 4000-byte tensors per 10000-byte shard; "big" (over the limit) becomes a
    // shard of its own as soon as it is met, so layers 8-9 and "tail" close the list.
    assertEquals(7, files.size());
    assertEquals("model-00001-of-00006.safetensors", files.get(0).getFileName().toString());
    assertEquals(Safetensors.INDEX_FILE, files.get(6).getFileName().toString());
    JsonNode index = new ObjectMapper().readTree(files.get(6).toFile());
    assertEquals(10 * 4000 + 20000 + 24, index.get("metadata").get("total_size").asLong());
    JsonNode map = index.get("weight_map");
    assertEquals("model-00001-of-00006.safetensors", map.get("layer.1.w").asText());
    assertEquals("model-00002-of-00006.safetensors", map.get("layer.2.w").asText());
    assertEquals("model-00005-of-00006.safetensors", map.get("big").asText());
    assertEquals("model-00006-of-00006.safetensors", map.get("layer.8.w").asText());
    assertEquals("model-00006-of-00006.safetensors", map.get("tail").asText());
    List<String> keys = new ArrayList<>();
    map.fieldNames().forEachRemaining(keys::add);
    assertEquals(
        keys.stream().sorted().toList(), keys, "weight_map sorted like json.dumps(sort_keys)");
    assertTrue(
        Files.readString(files.get(6)).contains("\"total_size\": 60024"), "Python-style spacing");

    for (Path open : List.of(dir, dir.resolve(Safetensors.INDEX_FILE))) {
      try (SafetensorsReader r = Safetensors.open(open)) {
        assertEquals(tensors.keySet(), r.tensors().keySet());
        assertEquals(
            "model-00005-of-00006.safetensors",
            r.tensors().get("big").file().getFileName().toString());
        assertEquals("60024", r.metadata().get("total_size"));
        assertEquals("x", r.metadata().get("note"));
        for (String name : tensors.keySet()) {
          NDArray back = r.load(name, manager);
          assertEquals(tensors.get(name).getShape(), back.getShape());
          if (name.equals("tail")) {
            assertArrayEquals(new long[] {1, 2, 3}, back.toLongArray());
          } else {
            assertArrayEquals(
                bits(tensors.get(name).toFloatArray()), bits(back.toFloatArray()), name);
          }
        }
      }
    }

    // Saving again with fewer shards removes the shards of the earlier save.
    Safetensors.writeSharded(dir, tensors, "F32", 25_000, Map.of());
    assertEquals(
        List.of(
            "model-00001-of-00003.safetensors",
            "model-00002-of-00003.safetensors",
            "model-00003-of-00003.safetensors",
            Safetensors.INDEX_FILE),
        listNames(dir));
    // With a roomy limit: one model.safetensors, and neither shards nor index are left.
    List<Path> single = Safetensors.writeSharded(dir, tensors, "BF16", 1L << 30, Map.of());
    assertEquals(List.of(dir.resolve(Safetensors.SINGLE_FILE)), single);
    assertEquals(List.of(Safetensors.SINGLE_FILE), listNames(dir));
    // And sharding again removes the single file, which readers would otherwise prefer.
    Safetensors.writeSharded(dir, tensors, "F32", 25_000, Map.of());
    assertFalse(Files.exists(dir.resolve(Safetensors.SINGLE_FILE)));
    try (SafetensorsReader r = Safetensors.open(dir)) {
      assertEquals(Safetensors.INDEX_FILE, r.source().getFileName().toString());
    }
  }

  @Test
  void failedWriteLeavesTheOldFileAndNoTemporary() throws Exception {
    Path file = tmp.resolve("keep.safetensors");
    Safetensors.writeFloats(
        file, Map.of("a", new FloatTensor(new long[] {1}, new float[] {7})), "F32", Map.of());
    byte[] before = Files.readAllBytes(file);
    Map<String, FloatTensor> bad = new LinkedHashMap<>();
    bad.put("ok", new FloatTensor(new long[] {1}, new float[] {1}));
    bad.put("__metadata__", new FloatTensor(new long[] {1}, new float[] {2}));
    assertThrows(
        IllegalArgumentException.class, () -> Safetensors.writeFloats(file, bad, "F32", Map.of()));
    assertThrows(
        IllegalArgumentException.class,
        () -> Safetensors.writeFloats(file, Map.of(), "F8", Map.of()));
    Map<String, String> nullValue = new LinkedHashMap<>();
    nullValue.put("note", null);
    assertThrows(
        IllegalArgumentException.class,
        () -> Safetensors.writeFloats(file, Map.of(), "F32", nullValue));
    assertArrayEquals(before, Files.readAllBytes(file));
    assertEquals(List.of("keep.safetensors"), listNames(tmp));
  }

  private static List<String> listNames(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  /** The stored 16-bit patterns of one tensor, read straight from the file. */
  private static int[] rawShorts(Path file, String name) throws Exception {
    try (SafetensorsReader r = Safetensors.open(file)) {
      TensorInfo info = r.tensors().get(name);
      ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
      int[] out = new int[(int) info.byteLength() / 2];
      for (int i = 0; i < out.length; i++) {
        out[i] = all.getShort((int) info.offset() + 2 * i) & 0xffff;
      }
      return out;
    }
  }
}
