package ai.tilt.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.tilt.runtime.Torch;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The F16/BF16 conversions against hand-computed roundings (the expected bit patterns were
 * confirmed with numpy's float16 and torch's bfloat16 casts) and, for F16, against libtorch.
 */
class HalfPrecisionTest {

  private static int bf16(float f) {
    return Safetensors.floatToBf16(f) & 0xffff;
  }

  private static int f16(float f) {
    return Safetensors.floatToF16(f) & 0xffff;
  }

  @Test
  void bf16RoundsToNearestEven() {
    assertEquals(0x3f80, bf16(1.0f));
    // 1 + 2^-8 is exactly half a bf16 ulp above 1.0: the tie goes to the even mantissa (down).
    assertEquals(0x3f80, bf16(1.00390625f));
    // 1 + 3 * 2^-8 is a tie between 0x3f81 (odd) and 0x3f82 (even): goes up.
    assertEquals(0x3f82, bf16(1.01171875f));
    assertEquals(0x3f81, bf16(Math.nextUp(1.00390625f)));
    assertEquals(0x3dcd, bf16(0.1f));
    assertEquals(0xc020, bf16(-2.5f));
  }

  @Test
  void bf16OverflowZeroAndNan() {
    // 3.0e38 (0x7f61b1e6) is still finite in bf16; 3.4e38 rounds past the largest bf16 (0x7f7f).
    assertEquals(0x7f62, bf16(3.0e38f));
    assertEquals(0x7f80, bf16(3.4e38f));
    assertEquals(0xff80, bf16(-3.4e38f));
    assertEquals(0x7f80, bf16(Float.MAX_VALUE));
    assertEquals(0x7f80, bf16(Float.POSITIVE_INFINITY));
    assertEquals(0xff80, bf16(Float.NEGATIVE_INFINITY));
    assertEquals(0x8000, bf16(-0.0f));
    assertEquals(0x0000, bf16(Float.MIN_VALUE));
    assertEquals(0x0002, bf16(Float.intBitsToFloat(0x00018000)));
    assertTrue(Float.isNaN(Safetensors.bf16ToFloat((short) bf16(Float.NaN))));
    // A NaN whose payload is only in the low half would truncate (and naively round) to infinity.
    int nanLowPayload = bf16(Float.intBitsToFloat(0x7f800001));
    assertTrue(Float.isNaN(Safetensors.bf16ToFloat((short) nanLowPayload)));
    assertEquals(0, nanLowPayload & 0x8000, "sign of +NaN kept");
    int negativeNan = bf16(Float.intBitsToFloat(0xff800001));
    assertTrue(Float.isNaN(Safetensors.bf16ToFloat((short) negativeNan)));
    assertEquals(0x8000, negativeNan & 0x8000, "sign of -NaN kept");
  }

  @Test
  void bf16WidensExactly() {
    for (int b = 0; b < 0x10000; b++) {
      float f = Safetensors.bf16ToFloat((short) b);
      assertEquals(b << 16, Float.floatToRawIntBits(f));
      if (!Float.isNaN(f)) {
        assertEquals(b, bf16(f), "round trip of " + Integer.toHexString(b));
      }
    }
  }

  @Test
  void f16RoundsNormalsAndOverflow() {
    assertEquals(0x3c00, f16(1.0f));
    assertEquals(0x2e66, f16(0.1f));
    assertEquals(0x3c00, f16(1.00048828125f)); // 1 + 2^-11: tie, to even (down)
    assertEquals(0x3c02, f16(1.00146484375f)); // 1 + 3 * 2^-11: tie, to even (up)
    assertEquals(0x3c01, f16(Math.nextUp(1.00048828125f)));
    assertEquals(0x7bff, f16(65504f));
    assertEquals(0x7bff, f16(65519.996f));
    assertEquals(0x7c00, f16(65520f)); // midpoint 65504..65536 goes to the even side: inf
    assertEquals(0x7c00, f16(1e6f));
    assertEquals(0x7c00, f16(3.0e38f));
    assertEquals(0xfc00, f16(Float.NEGATIVE_INFINITY));
    assertEquals(0x8000, f16(-0.0f));
    assertEquals(0x7e00, f16(Float.NaN));
    assertTrue(
        Float.isNaN(
            Safetensors.f16ToFloat(Safetensors.floatToF16(Float.intBitsToFloat(0x7f800001)))));
  }

  @Test
  void f16Subnormals() {
    assertEquals(0x0400, f16(0x1p-14f)); // smallest normal
    assertEquals(0x0001, f16(0x1p-24f)); // smallest subnormal
    assertEquals(0x0000, f16(0x1p-25f)); // half of it: tie to even zero
    assertEquals(0x0001, f16(Math.nextUp(0x1p-25f)));
    assertEquals(0x0002, f16(1.5f * 0x1p-24f)); // tie between 1 and 2
    assertEquals(0x0002, f16(2.5f * 0x1p-24f)); // tie between 2 and 3
    assertEquals(0x0003, f16(3f * 0x1p-24f));
    assertEquals(0x0400, f16(1023.5f * 0x1p-24f)); // rounds up into the normals
    assertEquals(0x8001, f16(-0x1p-24f));
    assertEquals(0x0000, f16(1e-40f));
    assertEquals(0x1p-24f, Safetensors.f16ToFloat((short) 1));
    assertEquals(-1023 * 0x1p-24f, Safetensors.f16ToFloat((short) 0x83ff));
  }

  @Test
  void f16RoundTripsEveryPattern() {
    for (int h = 0; h < 0x10000; h++) {
      float f = Safetensors.f16ToFloat((short) h);
      if (Float.isNaN(f)) {
        assertTrue((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0);
      } else {
        assertEquals(h, f16(f), "round trip of " + Integer.toHexString(h));
      }
    }
  }

  /** libtorch's own half conversions (c10::Half) are an independent implementation. */
  @Test
  void f16MatchesLibtorch() {
    Torch.init();
    Random rnd = new Random(7);
    int n = 200_000;
    float[] values = new float[n];
    for (int i = 0; i < n; i++) {
      // Exponents from far below the subnormals to far above the overflow point.
      values[i] =
          (rnd.nextBoolean() ? 1 : -1)
              * (1 + rnd.nextFloat())
              * (float) Math.pow(2, rnd.nextInt(60) - 30);
    }
    values[0] = 65520f;
    values[1] = 0x1p-25f;
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray half = m.create(values).toType(DataType.FLOAT16, false);
      ByteBuffer torchBits = half.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < n; i++) {
        assertEquals(torchBits.getShort() & 0xffff, f16(values[i]), "value " + values[i]);
      }

      ByteBuffer all = ByteBuffer.allocateDirect(2 * 0x10000).order(ByteOrder.LITTLE_ENDIAN);
      for (int h = 0; h < 0x10000; h++) {
        all.putShort((short) h);
      }
      all.flip();
      float[] widened =
          m.create(all, new Shape(0x10000), DataType.FLOAT16)
              .toType(DataType.FLOAT32, false)
              .toFloatArray();
      for (int h = 0; h < 0x10000; h++) {
        float ours = Safetensors.f16ToFloat((short) h);
        if (Float.isNaN(ours)) {
          assertTrue(Float.isNaN(widened[h]));
        } else {
          assertEquals(
              Float.floatToRawIntBits(widened[h]), Float.floatToRawIntBits(ours), "half " + h);
        }
      }
    }
  }
}
