package ai.tilt.dist;

/**
 * The JNI of libtilt_dist.so (src/main/native/dist/tilt_dist.cc). Every tensor argument is a DJL
 * PtNDArray handle (a heap torch::Tensor*), a group is a handle of the library's own. Reduce ops: 0
 * sum, 1 max, 2 min.
 */
final class NativeDist {
  private NativeDist() {}

  static native long init(
      String host,
      int port,
      int rank,
      int world,
      String backend,
      long timeoutMs,
      boolean storeServer,
      String storePrefix,
      String self);

  static native String rollCall(long group, long waitMs);

  static native float allreduceGrads(long group, long[] params, long bucketBytes, long bigBytes);

  static native void allreduce(long group, long[] tensors, int op);

  static native void broadcast(long group, long[] tensors, int root);

  static native void allgather(long group, long out, long in);

  static native void reduceScatter(long group, long out, long in);

  static native void flatten(long[] params, long flatParams, long flatGrads);

  static native int unflattened(long[] params, long flatParams, long flatGrads);

  static native void barrier(long group);

  static native void destroy(long group);
}
