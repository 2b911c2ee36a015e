package ai.tilt.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.tilt.runtime.Torch;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@link Group#flatten} as ZeRO-1 relies on it, in this process through a one-worker Gloo group:
 * the weights keep their values and become views of the flat vector (so writing the flat vector
 * writes them), backward adds their gradients into the flat gradient vector, and {@link
 * Group#unflattened} names a weight that is not where the layout put it.
 */
@Tag("dist")
class FlatLayoutTest {
  @Test
  void weightsAndGradientsBecomeViewsOfTheFlatVectors() throws IOException {
    DataParallelTest.needsTheLibrary();
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    World one = new World(0, 1, 0, 1, "127.0.0.1", port, true, "", "test");
    try (Group group = C10dGroup.join(one, Device.cpu(), Duration.ofSeconds(30), 1 << 20);
        NDManager m = NDManager.newBaseManager(Device.cpu())) {
      Torch.init();
      NDArray a = m.create(new float[] {1, 2, 3, 4, 5, 6}, new Shape(2, 3));
      NDArray b = m.create(new float[] {7, 8});
      a.setRequiresGradient(true);
      b.setRequiresGradient(true);
      NDArray flat = m.zeros(new Shape(10), DataType.FLOAT32); // 8 weights, 2 of padding
      NDArray flatGrads = m.zeros(new Shape(10), DataType.FLOAT32);
      group.flatten(List.of(a, b), flat, flatGrads);

      assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 0, 0}, flat.toFloatArray());
      assertEquals(new Shape(2, 3), a.getShape());
      // the weights are the flat vector's storage: an in-place write to it is a write to them
      flat.muli(10);
      assertArrayEquals(new float[] {10, 20, 30, 40, 50, 60}, a.toFloatArray());
      assertArrayEquals(new float[] {70, 80}, b.toFloatArray());

      // backward accumulates into the flat gradients: d/da sum(a * 2) = 2, d/db sum(b^2) = 2 b,
      // twice (two backward passes add up)
      for (int pass = 0; pass < 2; pass++) {
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
          gc.backward(a.mul(2).sum().add(b.square().sum()));
        }
      }
      assertArrayEquals(
          new float[] {4, 4, 4, 4, 4, 4, 280, 320, 0, 0}, flatGrads.toFloatArray(), 0f);
      assertEquals(-1, group.unflattened(List.of(a, b), flat, flatGrads));
      // in another order, the first weight is not at the offset the layout gave it
      assertEquals(0, group.unflattened(List.of(b, a), flat, flatGrads));
      NDArray c = m.create(new float[] {7, 8});
      c.setRequiresGradient(true);
      assertEquals(1, group.unflattened(List.of(a, c), flat, flatGrads));

      // a view's base would keep the weight's old storage alive: refused, naming the weight
      NDArray view = m.create(new float[] {1, 2, 3, 4}).reshape(new Shape(2, 2));
      view.setRequiresGradient(true);
      DistException e =
          assertThrows(
              DistException.class,
              () -> group.flatten(List.of(c, view), m.zeros(new Shape(6)), m.zeros(new Shape(6))));
      assertTrue(e.getMessage().contains("weight 1 is a view"), e.getMessage());
    }
  }
}
