package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.tilt.dist.DistException;
import ai.tilt.dist.Group;
import ai.tilt.runtime.NoGrad;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The divergence guard of data-parallel training. Workers apply identical updates to identical
 * weights, so their trainable weights stay bitwise equal; a checksum of them (the sum and the sum
 * of squares of every element, in double) is compared across workers after a resume, where each
 * loaded the checkpoint itself (a node with a stale copy of the run directory is caught), and every
 * {@code dist.check_every} steps.
 */
final class WeightGuard {
  private WeightGuard() {}

  /**
   * Fails on every worker, naming the ranks that differ from rank 0, unless all agree.
   *
   * @param when what the check follows, for the message ("after step 40")
   */
  static void check(Group group, Map<String, NDArray> trainable, String when) {
    if (group.size() == 1) {
      return;
    }
    double[] mine = checksum(trainable);
    ByteBuffer b = ByteBuffer.allocate(16).putDouble(mine[0]).putDouble(mine[1]);
    List<byte[]> all = group.allGather(b.array());
    List<String> differ = new ArrayList<>();
    ByteBuffer first = ByteBuffer.wrap(all.get(0));
    double sum0 = first.getDouble();
    double sq0 = first.getDouble();
    for (int r = 1; r < all.size(); r++) {
      ByteBuffer other = ByteBuffer.wrap(all.get(r));
      double sum = other.getDouble();
      double sq = other.getDouble();
      if (Double.doubleToLongBits(sum) != Double.doubleToLongBits(sum0)
          || Double.doubleToLongBits(sq) != Double.doubleToLongBits(sq0)) {
        differ.add("rank " + r + " (sum " + sum + ", sum of squares " + sq + ")");
      }
    }
    if (!differ.isEmpty()) {
      throw new DistException(
          "the workers' trainable weights differ "
              + when
              + ": rank 0 has sum "
              + sum0
              + ", sum of squares "
              + sq0
              + "; "
              + String.join("; ", differ)
              + ". After a resume: is the run directory the same on every node? During training:"
              + " a worker computed differently (report it); resume from the last checkpoint");
    }
  }

  private static double[] checksum(Map<String, NDArray> trainable) {
    double sum = 0;
    double squares = 0;
    try (NoGrad off = NoGrad.enter()) {
      for (NDArray p : trainable.values()) {
        NDArray d = p.toType(DataType.FLOAT64, true);
        sum += d.sum().getDouble();
        squares += d.square().sum().getDouble();
        d.close();
      }
    }
    return new double[] {sum, squares};
  }
}
