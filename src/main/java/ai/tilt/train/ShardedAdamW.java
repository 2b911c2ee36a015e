package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.tilt.dist.Group;
import ai.tilt.dist.Solo;
import ai.tilt.model.Safetensors;
import ai.tilt.model.SafetensorsReader;
import ai.tilt.runtime.Kernels;
import ai.tilt.runtime.NoGrad;
import ai.tilt.runtime.Torch;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdamW with its moments sharded across workers: ZeRO stage 1 (Rajbhandari et al., 2020, "ZeRO:
 * Memory Optimizations Toward Training Trillion Parameter Models"), {@code train.zero: 1}. The
 * trainable weights and their gradients are laid end to end, in their order, in two flat vectors
 * padded to a multiple of W ({@link Group#flatten}: each weight and its gradient become views of
 * their slice, as PyTorch's FSDP and DDP's gradient_as_bucket_view lay them); worker r owns
 * elements [r S, (r + 1) S), S = padded length / W, and keeps m and v for those only: 8/W bytes per
 * weight instead of 8. Each step reduce-scatters the flat gradients in place (the worker's slice
 * receives the sum of its share), takes the global norm from the shares' sums of squares, updates
 * its slice of the weights with {@link AdamW}'s arithmetic (torch's fused kernel), and all-gathers
 * the weights in place: no copy of the weights or gradients in or out, and no step-sized
 * temporaries, which at the peak would take back what sharding saves. Checkpoints gather the shards
 * into the same {@code optimizer.safetensors} as {@link AdamW} writes, so a run may resume with any
 * number of workers, sharded or not.
 */
public final class ShardedAdamW implements Optimizer {
  private final Map<String, NDArray> params;
  private final List<NDArray> order; // params' values, in the flat vectors' order
  private final Group group;
  private final NDManager manager; // owns the flat vectors and the shard state
  private final long shard; // S
  private final NDArray flatParams; // (W S): every weight, end to end, zero-padded
  private final NDArray flatGrads; // (W S): their gradients
  private final NDArray paramShare; // (S): this worker's slice of flatParams
  private final NDArray gradShare; // (S): of flatGrads; after reduceGradients, the step's sum
  private final NDArray m; // (S)
  private final NDArray v; // (S)
  private final Views decayed; // AdamW's two groups, as views of the slices above
  private final Views plain;
  private final List<NDArray> state; // stateArrays()
  private final double beta1;
  private final double beta2;
  private final double eps;
  private final double weightDecay;
  private NDArray gatheredM; // (W S) on rank 0 between gather and save
  private NDArray gatheredV;
  private long step;
  private float pendingScale = 1f; // clipping's factor, applied in update's pass

  /**
   * Shards AdamW over the group's workers; with one process and no process group, whose library
   * lays the weights flat, it is {@link AdamW} (the same arithmetic, nothing to shard).
   */
  public static Optimizer of(
      Map<String, NDArray> trainable,
      Group group,
      double beta1,
      double beta2,
      double eps,
      double weightDecay) {
    return group == Solo.INSTANCE
        ? new AdamW(trainable, beta1, beta2, eps, weightDecay)
        : new ShardedAdamW(trainable, group, beta1, beta2, eps, weightDecay);
  }

  private ShardedAdamW(
      Map<String, NDArray> trainable,
      Group group,
      double beta1,
      double beta2,
      double eps,
      double weightDecay) {
    if (trainable.isEmpty()) {
      throw new IllegalArgumentException("no trainable parameters");
    }
    this.params = trainable;
    this.order = new ArrayList<>(trainable.values());
    this.group = group;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    long n = 0;
    for (NDArray p : order) {
      if (p.getDataType() != DataType.FLOAT32) {
        throw new IllegalArgumentException("train.zero: 1 shards fp32 weights only");
      }
      n += p.getShape().size();
    }
    int w = group.size();
    this.shard = (n + w - 1) / w;
    this.manager = NDManager.newBaseManager(order.get(0).getDevice());
    this.flatParams = manager.zeros(new Shape(shard * w), DataType.FLOAT32);
    this.flatGrads = manager.zeros(new Shape(shard * w), DataType.FLOAT32);
    group.flatten(order, flatParams, flatGrads);
    this.paramShare = mine(flatParams);
    this.gradShare = mine(flatGrads);
    this.m = manager.zeros(new Shape(shard), DataType.FLOAT32);
    this.v = manager.zeros(new Shape(shard), DataType.FLOAT32);
    this.decayed = new Views();
    this.plain = new Views();
    // the pieces of the weights in this worker's slice, adjacent ones of one group merged (the
    // fused kernel is element-wise: how a group is cut does not change a bit of its result)
    long lo = shard * group.rank();
    long at = 0;
    long runFrom = -1; // the open run of one group, [runFrom, runTo); -1: none
    long runTo = 0;
    boolean runDecays = false;
    for (NDArray p : order) {
      long size = p.getShape().size();
      long from = Math.max(at, lo) - lo;
      long to = Math.min(at + size, lo + shard) - lo;
      at += size;
      if (from >= to) {
        continue;
      }
      boolean decays = weightDecay != 0 && p.getShape().dimension() >= 2;
      if (runFrom >= 0 && runDecays != decays) { // the weights lie end to end: only groups cut
        addRange(runDecays ? decayed : plain, runFrom, runTo);
        runFrom = -1;
      }
      if (runFrom < 0) {
        runFrom = from;
        runDecays = decays;
      }
      runTo = to;
    }
    if (runFrom >= 0) {
      addRange(runDecays ? decayed : plain, runFrom, runTo);
    }
    // what a step computes from these (the norm; AdamW's temporaries without the kernels) is then
    // the step's, freed with it
    List<NDArray> all = new ArrayList<>(List.of(m, v, gradShare, paramShare));
    for (Views g : List.of(decayed, plain)) {
      all.addAll(g.p());
      all.addAll(g.g());
      all.addAll(g.m());
      all.addAll(g.v());
    }
    this.state = List.copyOf(all);
  }

  /** One AdamW group's views: weights, gradients, first and second moments. */
  private record Views(List<NDArray> p, List<NDArray> g, List<NDArray> m, List<NDArray> v) {
    Views() {
      this(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
    }
  }

  /** Adds elements [from, to) of this worker's slice to a group. */
  private void addRange(Views into, long from, long to) {
    into.p().add(paramShare.get("{}:{}", from, to));
    into.g().add(gradShare.get("{}:{}", from, to));
    into.m().add(m.get("{}:{}", from, to));
    into.v().add(v.get("{}:{}", from, to));
  }

  /** This worker's share of a flat (padded) vector. */
  private NDArray mine(NDArray flat) {
    return flat.get("{}:{}", shard * group.rank(), shard * (group.rank() + 1));
  }

  /** The arrays laid end to end, zero-padded to W S, on {@code into} (a resume's moments). */
  private NDArray flat(NDManager into, List<NDArray> arrays) {
    NDList parts = new NDList();
    long total = 0;
    for (NDArray a : arrays) {
      parts.add(a.reshape(-1));
      total += a.getShape().size();
    }
    long pad = shard * group.size() - total;
    if (pad > 0) {
      parts.add(into.zeros(new Shape(pad), DataType.FLOAT32));
    }
    NDArray out = NDArrays.concat(parts);
    out.attach(into);
    return out;
  }

  @Override
  public double reduceGradients(Group g) {
    int moved = group.unflattened(order, flatParams, flatGrads);
    if (moved >= 0) {
      throw new IllegalStateException(
          "train.zero: 1: weight '"
              + new ArrayList<>(params.keySet()).get(moved)
              + "' or its gradient no longer lies in the flat vectors the sharded optimizer laid"
              + " out (something replaced it after the optimizer was made)");
    }
    group.reduceScatter(gradShare, flatGrads);
    double squares = Kernels.squaredNormOf(new NDArray[] {gradShare});
    return Math.sqrt(group.sum(squares)[0]);
  }

  /** Scales the gradient share in {@link #update}'s pass over it, as {@link AdamW#clip}. */
  @Override
  public void clip(float scale) {
    pendingScale *= scale;
  }

  @Override
  public void update(double lr) {
    step++;
    float scale = pendingScale;
    pendingScale = 1f;
    Kernels kernels = Kernels.on(flatParams.getDevice());
    try (NoGrad off = NoGrad.enter()) {
      for (Views g : List.of(decayed, plain)) {
        if (!g.p().isEmpty()) {
          AdamW.apply(
              kernels,
              g.p().toArray(NDArray[]::new),
              g.g().toArray(NDArray[]::new),
              g.m().toArray(NDArray[]::new),
              g.v().toArray(NDArray[]::new),
              step,
              lr,
              beta1,
              beta2,
              g == decayed ? weightDecay : 0,
              eps,
              scale);
        }
      }
      group.allGather(flatParams, paramShare); // in place: every weight is a view of flatParams
    }
  }

  @Override
  public long step() {
    return step;
  }

  @Override
  public List<NDArray> stateArrays() {
    return state;
  }

  /**
   * Every worker's m and v, brought together before rank 0 saves them (a collective). The others
   * free theirs at once: only rank 0 writes, and holding two full copies of the moments until the
   * next checkpoint would undo ZeRO's saving on every worker.
   */
  @Override
  public void gather() {
    NDArray allM = manager.create(new Shape(shard * group.size()), DataType.FLOAT32);
    NDArray allV = manager.create(new Shape(shard * group.size()), DataType.FLOAT32);
    group.allGather(allM, m);
    group.allGather(allV, v);
    if (group.isMain()) {
      gatheredM = allM;
      gatheredV = allV;
    } else {
      allM.close();
      allV.close();
    }
  }

  /** Writes what {@link #gather} brought, per tensor, as {@link AdamW} does. */
  @Override
  public void save(Path file) throws IOException {
    if (gatheredM == null) {
      throw new IllegalStateException("ShardedAdamW.save without gather() on every worker first");
    }
    try (NDManager s = manager.newSubManager()) {
      NDArray allM = gatheredM;
      NDArray allV = gatheredV;
      gatheredM = null;
      gatheredV = null;
      allM.attach(s);
      allV.attach(s);
      Map<String, NDArray> out = new LinkedHashMap<>();
      long at = 0;
      for (Map.Entry<String, NDArray> e : params.entrySet()) {
        long size = e.getValue().getShape().size();
        Shape shape = e.getValue().getShape();
        out.put("exp_avg." + e.getKey(), allM.get("{}:{}", at, at + size).reshape(shape));
        out.put("exp_avg_sq." + e.getKey(), allV.get("{}:{}", at, at + size).reshape(shape));
        at += size;
      }
      Safetensors.write(file, out, "F32", Map.of("step", Long.toString(step)));
    }
  }

  /** Reads the whole moments (of any earlier number of workers) and keeps this worker's share. */
  @Override
  public void load(Path file) throws IOException {
    try (SafetensorsReader r = Safetensors.open(file);
        NDManager s = manager.newSubManager()) {
      List<NDArray> ms = new ArrayList<>();
      List<NDArray> vs = new ArrayList<>();
      for (Map.Entry<String, NDArray> e : params.entrySet()) {
        for (String kind : new String[] {"exp_avg.", "exp_avg_sq."}) {
          if (!r.contains(kind + e.getKey())) {
            throw new IOException(file + ": no optimizer state '" + kind + e.getKey() + "'");
          }
          NDArray a = r.load(kind + e.getKey(), s);
          if (!a.getShape().equals(e.getValue().getShape())) {
            throw new IOException(
                file
                    + ": '"
                    + kind
                    + e.getKey()
                    + "' has shape "
                    + a.getShape()
                    + ", expected "
                    + e.getValue().getShape());
          }
          (kind.equals("exp_avg.") ? ms : vs).add(a);
        }
      }
      Torch.copyInto(m, mine(flat(s, ms)));
      Torch.copyInto(v, mine(flat(s, vs)));
      String st = r.metadata().get("step");
      if (st == null) {
        throw new IOException(file + ": no 'step' in the metadata");
      }
      step = Long.parseLong(st);
    }
  }

  @Override
  public void close() {
    manager.close();
  }
}
