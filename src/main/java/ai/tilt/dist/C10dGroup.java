package ai.tilt.dist;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.tilt.runtime.Torch;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * c10d's process group through libtilt_dist.so: a TCPStore rendezvous, then Gloo (CPU) or NCCL
 * (CUDA) collectives run in place on DJL's arrays. The library is the one {@code
 * scripts/build-jni.sh} built beside the JNI of the libtorch this process runs ({@code
 * TILT_DIST_LIBRARY}, or {@code -Dtilt.dist.library}).
 */
public final class C10dGroup implements Group {
  private static volatile boolean loaded;

  private final long handle;
  private final World world;
  private final NDManager manager; // small arrays of the collectives, on the group's device
  private final long bucketBytes;
  private boolean closed;
  private boolean rolled; // a roll call is taken once, after the first failure

  /** How long a roll call after a failure waits for the other workers' answers. */
  private static final long ROLL_CALL_MS = 5000;

  private C10dGroup(long handle, World world, NDManager manager, long bucketBytes) {
    this.handle = handle;
    this.world = world;
    this.manager = manager;
    this.bucketBytes = bucketBytes;
  }

  /**
   * Joins the job: blocks until every rank has come to the store, or fails after {@code timeout}
   * naming how many did.
   *
   * @param device where the collectives' arrays live: the CPU for Gloo, the worker's GPU for NCCL
   * @param bucketBytes the size of the gradient buckets all-reduced at once
   */
  public static C10dGroup join(World world, Device device, Duration timeout, long bucketBytes) {
    load();
    String backend = device.isGpu() ? "nccl" : "gloo";
    long h;
    try {
      h =
          NativeDist.init(
              world.masterAddr(),
              world.masterPort(),
              world.rank(),
              world.size(),
              backend,
              timeout.toMillis(),
              world.storeServer(),
              world.storePrefix(),
              hostName());
    } catch (DistException e) {
      throw new DistException(
          who(world)
              + " could not join the job at "
              + world.masterAddr()
              + ":"
              + world.masterPort()
              + " ("
              + backend
              + ", "
              + world.launcher()
              + "): "
              + firstLine(e.getMessage()),
          e);
    }
    return new C10dGroup(h, world, NDManager.newBaseManager(device), bucketBytes);
  }

  @Override
  public int localSize() {
    return world.localSize();
  }

  /** Loads libtilt_dist.so after DJL's engine, so that it binds to the libtorch DJL loaded. */
  static synchronized void load() {
    if (loaded) {
      return;
    }
    String path = System.getProperty("tilt.dist.library", System.getenv("TILT_DIST_LIBRARY"));
    if (path == null || path.isBlank()) {
      throw new DistException(
          "data-parallel training needs libtilt_dist.so, built against the libtorch that runs:"
              + " scripts/build-jni.sh builds it beside DJL's JNI, then source its env.sh (it sets"
              + " TILT_DIST_LIBRARY); Maven's libtorch 2.7.1 ships no headers to build it against");
    }
    if (!Files.isRegularFile(Path.of(path))) {
      throw new DistException("TILT_DIST_LIBRARY names " + path + ", which does not exist");
    }
    Torch.init();
    System.load(Path.of(path).toAbsolutePath().toString());
    loaded = true;
  }

  /** The library's path, or null when none is configured (for tilt doctor). */
  public static String libraryPath() {
    return System.getProperty("tilt.dist.library", System.getenv("TILT_DIST_LIBRARY"));
  }

  @Override
  public int rank() {
    return world.rank();
  }

  @Override
  public int size() {
    return world.size();
  }

  /** Gradients of at least this size are all-reduced alone, in place: no copy in or out. */
  private static final long IN_PLACE_BYTES = 1L << 20;

  @Override
  public double allReduceGradients(Collection<NDArray> parameters) {
    long[] handles = new long[parameters.size()];
    int i = 0;
    for (NDArray p : parameters) {
      handles[i++] = handle(p);
    }
    float[] squares = new float[1];
    call(
        () -> squares[0] = NativeDist.allreduceGrads(handle, handles, bucketBytes, IN_PLACE_BYTES),
        "the gradient all-reduce");
    return squares[0];
  }

  @Override
  public double[] sum(double... values) {
    return reduce(values, 0);
  }

  @Override
  public double[] max(double... values) {
    return reduce(values, 1);
  }

  private double[] reduce(double[] values, int op) {
    try (NDManager m = manager.newSubManager()) {
      NDArray a = m.create(values); // float64
      call(() -> NativeDist.allreduce(handle, new long[] {handle(a)}, op), "an all-reduce");
      return a.toDoubleArray();
    }
  }

  @Override
  public void broadcast(List<NDArray> arrays, int root) {
    long[] handles = handles(arrays);
    call(() -> NativeDist.broadcast(handle, handles, root), "a broadcast");
  }

  @Override
  public List<byte[]> allGather(byte[] mine) {
    try (NDManager m = manager.newSubManager()) {
      NDArray length = m.create(new long[] {mine.length});
      NDArray lengths = m.zeros(new Shape(size()), DataType.INT64);
      allGather(lengths, length);
      long[] each = lengths.toLongArray();
      int max = (int) Math.max(1, Arrays.stream(each).max().orElse(1));
      NDArray in = m.create(Arrays.copyOf(mine, max)); // int8, padded
      NDArray out = m.zeros(new Shape((long) max * size()), DataType.INT8);
      allGather(out, in);
      byte[] all = out.toByteArray();
      List<byte[]> result = new ArrayList<>();
      for (int r = 0; r < size(); r++) {
        result.add(Arrays.copyOfRange(all, r * max, r * max + (int) each[r]));
      }
      return result;
    }
  }

  @Override
  public void allGather(NDArray out, NDArray in) {
    call(() -> NativeDist.allgather(handle, handle(out), handle(in)), "an all-gather");
  }

  @Override
  public void reduceScatter(NDArray out, NDArray in) {
    call(() -> NativeDist.reduceScatter(handle, handle(out), handle(in)), "a reduce-scatter");
  }

  @Override
  public void flatten(List<NDArray> params, NDArray flatParams, NDArray flatGrads) {
    NativeDist.flatten(handles(params), handle(flatParams), handle(flatGrads));
  }

  @Override
  public int unflattened(List<NDArray> params, NDArray flatParams, NDArray flatGrads) {
    return NativeDist.unflattened(handles(params), handle(flatParams), handle(flatGrads));
  }

  @Override
  public void barrier() {
    call(() -> NativeDist.barrier(handle), "a barrier");
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      NativeDist.destroy(handle);
    } catch (DistException e) {
      // a peer already gone: nothing left to shut down cleanly
    }
    manager.close();
  }

  /**
   * A collective whose failure names this rank, what was under way, and the workers that did not
   * answer a roll call after it: the ones that died or hang.
   */
  private void call(Runnable collective, String what) {
    try {
      collective.run();
    } catch (DistException e) {
      throw new DistException(
          who(world)
              + ": "
              + what
              + " failed (a worker died, hung past the timeout, or left): "
              + firstLine(e.getMessage())
              + "; "
              + rollCall(),
          e);
    }
  }

  /**
   * After a failed collective: asks every worker, through the store, how many collectives it has
   * entered (a watcher thread answers for each, even one blocked in a collective) and waits {@link
   * #ROLL_CALL_MS} for the answers. Names, with the host they joined from, the workers that gave no
   * answer (dead) and those behind the others (the one they all wait for). The store outlives the
   * broken process group, unless the process serving it (rank 0, or torchrun's agent) is the one
   * gone.
   */
  private String rollCall() {
    if (rolled) {
      return "the roll call was taken after an earlier failure";
    }
    rolled = true;
    // on a thread of its own, with a deadline: a store whose host vanished without closing its
    // connections would block the store's calls until the job's whole timeout
    FutureTask<String> call = new FutureTask<>(() -> NativeDist.rollCall(handle, ROLL_CALL_MS));
    Thread t = new Thread(call, "tilt-roll-call");
    t.setDaemon(true);
    t.start();
    String answers; // the most entered, then "RANK ENTERED HOST" for each rank to name
    try {
      answers = call.get(ROLL_CALL_MS + 5000, TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException | InterruptedException e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
      return "no roll call: the store at "
          + world.masterAddr()
          + ":"
          + world.masterPort()
          + " is unreachable too (the process serving it, rank 0 or torchrun's agent, died or has"
          + " already exited: "
          + (cause instanceof TimeoutException ? "no answer" : firstLine(cause.getMessage()))
          + ")";
    }
    return RollCall.verdict(answers, ROLL_CALL_MS / 1000);
  }

  /** This machine's name, which the other workers' messages give when this one fails. */
  private static String hostName() {
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      String env = System.getenv("HOSTNAME");
      return env == null || env.isBlank() ? "host unknown" : env;
    }
  }

  private static String who(World world) {
    return "rank " + world.rank() + " of " + world.size();
  }

  private static long handle(NDArray a) {
    return ((PtNDArray) a).getHandle();
  }

  private static long[] handles(List<NDArray> arrays) {
    return arrays.stream().mapToLong(C10dGroup::handle).toArray();
  }

  private static String firstLine(String s) {
    return s == null ? "" : s.lines().findFirst().orElse("");
  }
}
