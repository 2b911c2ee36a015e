package ai.tilt.runtime;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import java.util.function.BinaryOperator;

/**
 * Arithmetic with a number whose operand libtorch owns. DJL's {@code NDArray.mul(Number)} (and div,
 * pow, maximum, minimum, their in-place forms) wraps the number in a tensor over a Java direct
 * buffer ({@code from_blob}) and closes it as soon as the op returns; autograd saves that tensor
 * for backward, so once a garbage collection frees the buffer, backward reads freed memory. The
 * gradient then comes out as whatever malloc put there: NaN (a skipped step) or, worse, a finite
 * wrong value (measured: 20 of 20 backward passes after a forced GC gave NaN or -6.5e37 for the
 * gradient of {@code x.mul(3f)}). Here the number is a {@code torch.full} tensor, whose storage
 * autograd keeps alive for as long as the graph needs it. {@code ArchitectureTest} keeps DJL's
 * forms out of the rest of Tilt.
 */
public final class Scalars {
  private Scalars() {}

  /** x * v */
  public static NDArray mul(NDArray x, double v) {
    return apply(x, v, NDArray::mul);
  }

  /** x / v */
  public static NDArray div(NDArray x, double v) {
    return apply(x, v, NDArray::div);
  }

  /** x ^ v */
  public static NDArray pow(NDArray x, double v) {
    return apply(x, v, NDArray::pow);
  }

  /** max(x, v), elementwise */
  public static NDArray maximum(NDArray x, double v) {
    return apply(x, v, NDArray::maximum);
  }

  /** min(x, v), elementwise */
  public static NDArray minimum(NDArray x, double v) {
    return apply(x, v, NDArray::minimum);
  }

  /** x *= v, in place (gradients, optimizer state: no graph) */
  public static NDArray muli(NDArray x, double v) {
    return apply(x, v, NDArray::muli);
  }

  /** x /= v, in place */
  public static NDArray divi(NDArray x, double v) {
    return apply(x, v, NDArray::divi);
  }

  /**
   * A 0-d tensor of x's type on x's device, filled by libtorch (no Java buffer behind it), in
   * double precision (DJL's public {@code full} takes a float).
   */
  private static NDArray apply(NDArray x, double v, BinaryOperator<NDArray> op) {
    if (!x.getDataType().isFloating() && v != Math.rint(v)) {
      throw new IllegalArgumentException(
          "a fractional number (" + v + ") with a " + x.getDataType() + " array");
    }
    PtNDManager m = (PtNDManager) x.getManager();
    try (NDArray s =
        JniUtils.full(m, new Shape(), v, x.getDataType(), x.getDevice(), SparseFormat.DENSE)) {
      return op.apply(x, s);
    }
  }
}
