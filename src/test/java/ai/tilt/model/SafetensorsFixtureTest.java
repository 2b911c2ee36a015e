package ai.tilt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.tilt.runtime.Torch;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Reads the HF-written tiny checkpoints in src/test/resources/fixtures/hf-tiny. The expected sums
 * were computed once, independently of this code, with Python 3.11 + numpy 2 + safetensors 0.8:
 * {@code safe_open(path, framework="numpy")}, each tensor {@code .astype(np.float64).sum()}, summed
 * over the sorted tensor names.
 */
class SafetensorsFixtureTest {
  @TempDir Path tmp;

  static Path fixture(String variant) throws Exception {
    return Path.of(
        SafetensorsFixtureTest.class
            .getResource("/fixtures/hf-tiny/" + variant + "/model.safetensors")
            .toURI());
  }

  @Test
  void gpt2NamesShapesAndValues() throws Exception {
    Torch.init();
    try (SafetensorsReader r = Safetensors.open(fixture("gpt2").getParent());
        NDManager m = NDManager.newBaseManager()) {
      assertEquals("pt", r.metadata().get("format"));
      assertEquals(28, r.tensors().size());
      TensorInfo attn = r.info("transformer.h.0.attn.c_attn.weight");
      assertEquals("F32", attn.dtype());
      assertArrayEquals(new long[] {64, 192}, attn.shape());
      assertArrayEquals(new long[] {480, 64}, r.info("transformer.wte.weight").shape());
      assertTrue(r.contains("transformer.ln_f.bias"));

      float[] w = r.loadFloats("transformer.h.0.attn.c_attn.weight");
      // numpy: a.view(np.uint32)[0, :4]
      int[] firstBits = {0x3e0d8f53, 0x3dea463f, 0x3f13a0b0, 0x3bc24a0b};
      for (int i = 0; i < 4; i++) {
        assertEquals(firstBits[i], Float.floatToRawIntBits(w[i]));
      }
      assertEquals(-0.11154267936944962, w[w.length - 1], 0);
      double sum = 0;
      double abs = 0;
      for (float v : w) {
        sum += v;
        abs += Math.abs(v);
      }
      assertEquals(19.575465868008905, sum, 1e-9); // numpy float64 sum
      assertEquals(1937.9108667143591, abs, 1e-9); // numpy np.abs(...).sum()

      NDArray arr = r.load("transformer.h.0.attn.c_attn.weight", m);
      assertEquals(DataType.FLOAT32, arr.getDataType());
      assertArrayEquals(w, arr.toFloatArray());
    }
  }

  @ParameterizedTest
  @CsvSource({
    "gpt2, 28, 139008, 380.3967570421402",
    "gpt_neox, 28, 151296, 441.73947405179376",
    "llama_gqa, 21, 123200, 390.3985207947839",
    "qwen2, 27, 131648, 342.64284625694495",
  })
  void everyFixtureSumsLikeNumpy(String variant, int count, long elements, double total)
      throws Exception {
    try (SafetensorsReader r = Safetensors.open(fixture(variant))) {
      assertEquals(count, r.tensors().size());
      long n = 0;
      double sum = 0;
      for (String name : r.tensors().keySet().stream().sorted().toList()) {
        n += r.info(name).numel();
        for (float v : r.loadFloats(name)) {
          sum += v;
        }
      }
      assertEquals(elements, n);
      assertEquals(total, sum, 1e-8);
    }
  }

  @Test
  void resavingTheFixtureKeepsEveryBit() throws Exception {
    Torch.init();
    Path out = tmp.resolve("resaved");
    try (SafetensorsReader r = Safetensors.open(fixture("qwen2"));
        NDManager m = NDManager.newBaseManager()) {
      Map<String, NDArray> all = new LinkedHashMap<>();
      for (String name : r.tensors().keySet()) {
        all.put(name, r.load(name, m));
      }
      Safetensors.writeSharded(out, all, "F32", 200_000, Map.of());
      try (SafetensorsReader back = Safetensors.open(out)) {
        assertEquals(r.tensors().keySet(), back.tensors().keySet());
        assertTrue(back.tensors().values().stream().map(TensorInfo::file).distinct().count() > 1);
        for (String name : r.tensors().keySet()) {
          assertArrayEquals(r.loadFloats(name), back.loadFloats(name), name);
          assertArrayEquals(r.info(name).shape(), back.info(name).shape());
        }
      }
    }
  }

  /** Loading a large tensor goes file mapping to native memory: the Java heap barely moves. */
  @Test
  void largeTensorDoesNotGoThroughTheHeap() throws Exception {
    long n = 64L << 20; // 256 MB of F32
    Path p = tmp.resolve("big.safetensors");
    String header =
        "{\"big\":{\"dtype\":\"F32\",\"shape\":["
            + (n / 1024)
            + ",1024],\"data_offsets\":[0,"
            + n * 4
            + "]}}";
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
      // A sparse file: only the header and two marked values are written to disk.
      f.setLength(8 + h.length + n * 4);
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length);
      f.write(len.array());
      f.write(h);
      f.seek(8 + h.length + 4);
      f.writeInt(Integer.reverseBytes(Float.floatToIntBits(1.5f)));
      f.seek(8 + h.length + n * 4 - 4);
      f.writeInt(Integer.reverseBytes(Float.floatToIntBits(-7f)));
    }
    Torch.init();
    Runtime rt = Runtime.getRuntime();
    try (SafetensorsReader r = Safetensors.open(p);
        NDManager m = NDManager.newBaseManager()) {
      System.gc();
      long before = rt.totalMemory() - rt.freeMemory();
      NDArray big = r.load("big", m);
      long after = rt.totalMemory() - rt.freeMemory();
      assertTrue(after - before < 64L << 20, "heap grew by " + (after - before) + " bytes");
      assertEquals(1.5f, big.getFloat(0, 1));
      assertEquals(-7f, big.getFloat(n / 1024 - 1, 1023));
      assertEquals(-5.5f, big.sum().getFloat());
    }
  }
}
