package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.tilt.dist.Group;
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
 * trainable weights, laid end to end in their order and padded to a multiple of W, form one flat
 * vector; worker r owns elements [r S, (r + 1) S) of it, S = padded length / W, and keeps m and v
 * for those only: 8/W bytes per weight instead of 8. Each step reduce-scatters the gradients (the
 * worker receives the sum of its share), takes the global norm from the shares' sums of squares,
 * updates its share with {@link AdamW}'s arithmetic (torch's fused kernel), and all-gathers the
 * weights. Checkpoints gather the shards into the same {@code optimizer.safetensors} as {@link
 * AdamW} writes, so a run may resume with any number of workers, sharded or not.
 */
public final class ShardedAdamW implements Optimizer {
  private final Map<String, NDArray> params;
  private final Group group;
  private final NDManager manager; // owns the shard state
  private final long total; // trainable elements
  private final long shard; // S
  private final NDArray m; // (S)
  private final NDArray v; // (S)
  private final List<Segment>
      segments; // the pieces of the weights that make up this worker's share
  private final double beta1;
  private final double beta2;
  private final double eps;
  private final double weightDecay;
  private NDArray grad; // (S): this worker's share of the step's summed gradient
  private NDArray gatheredM; // (W S) on rank 0 between gather and save
  private NDArray gatheredV;
  private long step;
  private float pendingScale = 1f; // clipping's factor, applied in update's pass

  public ShardedAdamW(
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
    this.group = group;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.weightDecay = weightDecay;
    long n = 0;
    for (NDArray p : trainable.values()) {
      if (p.getDataType() != DataType.FLOAT32) {
        throw new IllegalArgumentException("train.zero: 1 shards fp32 weights only");
      }
      n += p.getShape().size();
    }
    this.total = n;
    this.shard = (n + group.size() - 1) / group.size();
    this.manager = NDManager.newBaseManager(trainable.values().iterator().next().getDevice());
    this.m = manager.zeros(new Shape(shard), DataType.FLOAT32);
    this.v = manager.zeros(new Shape(shard), DataType.FLOAT32);
    this.segments = new ArrayList<>();
    long lo = shard * group.rank();
    long at = 0;
    for (NDArray p : trainable.values()) {
      long size = p.getShape().size();
      long from = Math.max(at, lo);
      long to = Math.min(at + size, lo + shard);
      if (from < to) {
        segments.add(new Segment(p, from - at, to - at, from - lo, p.getShape().dimension() >= 2));
      }
      at += size;
    }
  }

  /**
   * Elements [from, to) of a weight, flattened, are elements [at, at + to - from) of this worker's
   * share; decays as AdamW's groups do (matrices).
   */
  private record Segment(NDArray param, long from, long to, long at, boolean decays) {}

  /** One AdamW group's views: weights, gradients, first and second moments. */
  private record Views(List<NDArray> p, List<NDArray> g, List<NDArray> m, List<NDArray> v) {
    Views() {
      this(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
    }
  }

  /** This worker's share of a flat (padded) vector. */
  private NDArray mine(NDArray flat) {
    return flat.get("{}:{}", shard * group.rank(), shard * (group.rank() + 1));
  }

  /** The arrays laid end to end, zero-padded to W S, on {@code into}. */
  private NDArray flat(NDManager into, List<NDArray> arrays) {
    NDList parts = new NDList();
    for (NDArray a : arrays) {
      parts.add(a.reshape(-1));
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
    NDManager step = params.values().iterator().next().getManager();
    List<NDArray> grads = new ArrayList<>();
    for (NDArray p : params.values()) {
      grads.add(p.getGradient());
    }
    NDArray all = flat(step, grads); // (W S)
    grad = step.create(new Shape(shard), DataType.FLOAT32); // the reduce-scatter writes all of it
    group.reduceScatter(grad, all);
    double squares = Kernels.squaredNormOf(new NDArray[] {grad});
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
    NDManager stepManager = grad.getManager();
    try (NoGrad off = NoGrad.enter()) {
      // AdamW runs on views of the weights themselves, in its two groups (decayed matrices, the
      // rest): no flat copy of every weight, no decay mask (measured at one worker on llama-small,
      // those passes made a step 0.1-0.2 s slower than plain AdamW)
      Views decayed = new Views();
      Views plain = new Views();
      NDList share = new NDList();
      for (Segment seg : segments) {
        NDArray w = seg.param().reshape(-1).get("{}:{}", seg.from(), seg.to());
        long end = seg.at() + seg.to() - seg.from();
        Views into = seg.decays() && weightDecay != 0 ? decayed : plain;
        into.p().add(w);
        into.g().add(grad.get("{}:{}", seg.at(), end));
        into.m().add(m.get("{}:{}", seg.at(), end));
        into.v().add(v.get("{}:{}", seg.at(), end));
        share.add(w);
      }
      float scale = pendingScale;
      pendingScale = 1f;
      Kernels kernels = Kernels.on(grad.getDevice());
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
      long pad = shard * (group.rank() + 1) - Math.max(total, shard * group.rank());
      if (pad > 0) {
        share.add(stepManager.zeros(new Shape(pad), DataType.FLOAT32)); // the last worker's tail
      }
      NDArray mine = share.size() == 1 ? share.get(0) : NDArrays.concat(share); // (S)
      NDArray gathered = stepManager.create(new Shape(shard * group.size()), DataType.FLOAT32);
      group.allGather(gathered, mine);
      long at = 0;
      for (NDArray param : params.values()) {
        long size = param.getShape().size();
        Torch.copyInto(param, gathered.get("{}:{}", at, at + size).reshape(param.getShape()));
        at += size;
      }
    }
    grad = null;
  }

  @Override
  public long step() {
    return step;
  }

  @Override
  public List<NDArray> stateArrays() {
    return List.of(m, v);
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
