package ai.tilt.dist;

import ai.djl.ndarray.NDArray;
import ai.tilt.runtime.Kernels;
import ai.tilt.runtime.Torch;
import java.util.Collection;
import java.util.List;

/** One worker alone: every collective is the identity, and nothing native is loaded. */
public final class Solo implements Group {
  public static final Solo INSTANCE = new Solo();

  private Solo() {}

  @Override
  public int rank() {
    return 0;
  }

  @Override
  public int size() {
    return 1;
  }

  @Override
  public double allReduceGradients(Collection<NDArray> parameters) {
    return Kernels.squaredNormOf(
        parameters.stream().map(NDArray::getGradient).toArray(NDArray[]::new));
  }

  @Override
  public double[] sum(double... values) {
    return values.clone();
  }

  @Override
  public double[] max(double... values) {
    return values.clone();
  }

  @Override
  public void broadcast(List<NDArray> arrays, int root) {}

  @Override
  public List<byte[]> allGather(byte[] mine) {
    return List.of(mine);
  }

  @Override
  public void allGather(NDArray out, NDArray in) {
    Torch.copyInto(out, in.reshape(out.getShape())); // W = 1: the same elements
  }

  @Override
  public void reduceScatter(NDArray out, NDArray in) {
    Torch.copyInto(out, in.reshape(out.getShape()));
  }

  private static final String NO_FLAT =
      "one process without a process group has no library to lay weights flat with";

  @Override
  public void flatten(List<NDArray> params, NDArray flatParams, NDArray flatGrads) {
    throw new UnsupportedOperationException(NO_FLAT);
  }

  @Override
  public int unflattened(List<NDArray> params, NDArray flatParams, NDArray flatGrads) {
    throw new UnsupportedOperationException(NO_FLAT);
  }

  @Override
  public void barrier() {}

  @Override
  public void close() {}
}
