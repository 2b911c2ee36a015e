package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.tilt.data.Batches;
import ai.tilt.data.ResponseGroup;
import ai.tilt.data.SftExample;
import ai.tilt.loss.GroupLoss;
import ai.tilt.loss.Kto;
import ai.tilt.loss.LossOutput;
import ai.tilt.loss.Responses;
import ai.tilt.model.CausalLM;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * The preference losses (DPO family, KTO, Pref-FT, RWR, Best-of-N) over groups of responses: every
 * response of every group in a micro-batch goes through one concatenated forward (chosen and
 * rejected together, as TRL does), is reduced to its sequence-level log-prob sum, and the loss sees
 * (G, N) arrays. Each group weighs the same: a micro-batch's loss is the sum of its groups' losses
 * divided by the number of groups in the whole accumulation window.
 *
 * <p>Reference log-probs come from a frozen {@link ReferenceModel} computed alongside, or from
 * values precomputed once for the whole dataset ({@link ReferenceCache}).
 */
public final class PreferenceObjective implements Objective {
  private final CausalLM policy;
  private final ReferenceModel reference; // null when precomputed or not needed
  private final GroupLoss loss;
  private final long padId;
  private final List<ResponseGroup> train;
  private final List<ResponseGroup> eval;
  private final float[][] trainReference; // [group][response] precomputed, or null
  private final float[][] evalReference;
  private final String summary;

  public PreferenceObjective(
      CausalLM policy,
      ReferenceModel reference,
      GroupLoss loss,
      long padId,
      List<ResponseGroup> train,
      List<ResponseGroup> eval,
      float[][] trainReference,
      float[][] evalReference,
      String summary) {
    this.policy = policy;
    this.reference = reference;
    this.loss = loss;
    this.padId = padId;
    this.train = train;
    this.eval = eval;
    this.trainReference = trainReference;
    this.evalReference = evalReference;
    this.summary = summary;
    if (loss.needsReference() && reference == null && trainReference == null) {
      throw new IllegalArgumentException("loss " + loss.type() + " needs a reference model");
    }
  }

  /** A window: micro-batches of group indices, and the metric sums filled in as they run. */
  static final class PrefWindow implements Objective.Window {
    final List<List<Integer>> micros;
    final int groups;
    final long tokens;
    final Map<String, double[]> sums = new LinkedHashMap<>(); // name -> {sum, count}

    PrefWindow(List<List<Integer>> micros, int groups, long tokens) {
      this.micros = micros;
      this.groups = groups;
      this.tokens = tokens;
    }

    @Override
    public int microBatches() {
      return micros.size();
    }

    @Override
    public long tokens() {
      return tokens;
    }
  }

  @Override
  public int trainSize() {
    return train.size();
  }

  @Override
  public Window prepare(List<List<Integer>> micros) {
    int groups = 0;
    long tokens = 0;
    for (List<Integer> micro : micros) {
      for (int g : micro) {
        ResponseGroup group = train.get(g);
        groups++;
        for (int j = 0; j < group.size(); j++) {
          tokens += group.prompt().length + group.responses().get(j).length;
        }
      }
    }
    return new PrefWindow(micros, groups, tokens);
  }

  @Override
  public NDArray microLoss(NDManager step, Window w, int i) {
    PrefWindow pw = (PrefWindow) w;
    LossOutput out = compute(step, train, trainReference, pw.micros.get(i), true);
    accumulate(pw.sums, out);
    return out.perGroup().sum().div((float) pw.groups);
  }

  @Override
  public Map<String, Double> metrics(Window w) {
    return means(((PrefWindow) w).sums, "");
  }

  @Override
  public boolean hasEval() {
    return !eval.isEmpty();
  }

  @Override
  public Map<String, Double> evaluate(NDManager parent, int microBatch) {
    return evaluateGroups(
        parent, eval.size(), microBatch, (m, idx) -> compute(m, eval, evalReference, idx, false));
  }

  /**
   * Loss and metric means over {@code n} held-out groups, {@code microBatch} at a time, without a
   * graph, each micro-batch in its own sub-manager (shared with {@link RewardObjective}).
   */
  static Map<String, Double> evaluateGroups(
      NDManager parent,
      int n,
      int microBatch,
      BiFunction<NDManager, List<Integer>, LossOutput> compute) {
    Map<String, double[]> sums = new LinkedHashMap<>();
    double lossSum = 0;
    boolean grad = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try {
      for (int start = 0; start < n; start += microBatch) {
        List<Integer> idx = new ArrayList<>();
        for (int g = start; g < Math.min(n, start + microBatch); g++) {
          idx.add(g);
        }
        try (NDManager m = parent.newSubManager()) {
          LossOutput out = compute.apply(m, idx);
          lossSum += out.perGroup().sum().getFloat();
          accumulate(sums, out);
        }
      }
    } finally {
      JniUtils.setGradMode(grad);
    }
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("eval/loss", lossSum / n);
    m.putAll(means(sums, "eval/"));
    return m;
  }

  @Override
  public String describe() {
    return summary
        + (eval.isEmpty() ? "" : "; " + eval.size() + " eval groups")
        + (loss.needsReference()
            ? (trainReference != null
                ? "; reference log-probs precomputed"
                : "; frozen reference model")
            : "");
  }

  /**
   * The loss of some groups: one policy forward (and one reference forward) over all their
   * responses.
   */
  private LossOutput compute(
      NDManager m, List<ResponseGroup> data, float[][] cached, List<Integer> idx, boolean train) {
    int g = idx.size();
    int n = data.get(idx.get(0)).size();
    List<SftExample> rows = new ArrayList<>(g * n);
    float[] lengths = new float[g * n];
    float[] rewards = new float[g * n];
    for (int a = 0; a < g; a++) {
      ResponseGroup group = data.get(idx.get(a));
      if (group.size() != n) {
        throw new IllegalArgumentException(
            "line "
                + group.line()
                + ": "
                + group.size()
                + " responses, but line "
                + data.get(idx.get(0)).line()
                + " of the same micro-batch has "
                + n
                + "; use equal-size groups");
      }
      for (int j = 0; j < n; j++) {
        rows.add(row(group.prompt(), group.responses().get(j), group.line()));
        lengths[a * n + j] = group.responses().get(j).length;
        rewards[a * n + j] = (float) group.rewards()[j];
      }
    }
    Shape gn = new Shape(g, n);
    NDArray policyLogps = sequenceLogps(m, policy, null, rows, padId).reshape(gn); // (G, N)
    NDArray referenceLogps = null;
    if (loss.needsReference()) {
      if (cached != null) {
        float[] values = new float[g * n];
        for (int a = 0; a < g; a++) {
          System.arraycopy(cached[idx.get(a)], 0, values, a * n, n);
        }
        referenceLogps = m.create(values, gn);
      } else {
        referenceLogps = sequenceLogps(m, null, reference, rows, padId).reshape(gn);
      }
    }
    NDArray klPolicy = null;
    NDArray klReference = null;
    if (loss instanceof Kto) {
      // KL estimate from mismatched pairs: prompt a with the response of group a+1 (TRL's KTO)
      List<SftExample> mismatched = new ArrayList<>();
      for (int a = 0; a < g; a++) {
        ResponseGroup mine = data.get(idx.get(a));
        ResponseGroup other = data.get(idx.get((a + 1) % g));
        mismatched.add(row(mine.prompt(), other.responses().get(0), mine.line()));
      }
      boolean grad = JniUtils.isGradMode();
      JniUtils.setGradMode(false);
      try {
        klPolicy = sequenceLogps(m, policy, null, mismatched, padId);
      } finally {
        JniUtils.setGradMode(grad);
      }
      klReference =
          reference != null
              ? sequenceLogps(m, null, reference, mismatched, padId)
              : klPolicy.zerosLike();
    }
    return loss.compute(
        new Responses(
            policyLogps,
            referenceLogps,
            m.create(lengths, gn),
            m.create(rewards, gn),
            klPolicy,
            klReference));
  }

  /** A prompt + response row whose targets are the response's tokens. */
  static SftExample row(long[] prompt, long[] response, int line) {
    long[] ids = new long[prompt.length + response.length];
    System.arraycopy(prompt, 0, ids, 0, prompt.length);
    System.arraycopy(response, 0, ids, prompt.length, response.length);
    boolean[] targets = new boolean[ids.length];
    for (int t = Math.max(1, prompt.length); t < ids.length; t++) {
      targets[t] = true;
    }
    return new SftExample(ids, targets, line, false);
  }

  /** Sum of each row's target-token log-probs, under the policy (graph) or the reference (none). */
  static NDArray sequenceLogps(
      NDManager m, CausalLM model, ReferenceModel ref, List<SftExample> rows, long padId) {
    Batches.PaddedBatch b = Batches.pad(rows, padId, false);
    Shape shape = new Shape(b.rows(), b.width());
    int from = SftObjective.firstTarget(b);
    NDArray ids = m.create(b.ids(), shape);
    NDArray mask = m.create(b.mask(), shape);
    NDArray logp =
        model != null ? model.tokenLogprobs(ids, mask, from) : ref.tokenLogprobs(ids, mask, from);
    NDArray targets = m.create(b.targets(), shape).get(":, {}:", from);
    return logp.mul(targets).sum(new int[] {1}); // (R)
  }

  static void accumulate(Map<String, double[]> sums, LossOutput out) {
    for (Map.Entry<String, NDArray> e : out.metrics().entrySet()) {
      double[] s = sums.computeIfAbsent(e.getKey(), k -> new double[2]);
      for (float v : e.getValue().toFloatArray()) {
        if (!Float.isNaN(v)) {
          s[0] += v;
          s[1]++;
        }
      }
    }
  }

  /**
   * Window means of the per-group metrics. A metric {@code a/b_sum} that comes with a {@code
   * count/b} (KTO's desirable and undesirable rows, which only some groups have) becomes {@code
   * a/b} = its total over the total count, as TRL computes it, instead of a mean over all groups.
   */
  static Map<String, Double> means(Map<String, double[]> sums, String prefix) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (Map.Entry<String, double[]> e : sums.entrySet()) {
      String key = e.getKey();
      double[] s = e.getValue();
      if (key.endsWith("_sum")) {
        String base = key.substring(0, key.length() - 4); // rewards/chosen
        double[] count = sums.get("count/" + base.substring(base.indexOf('/') + 1));
        if (count != null) {
          out.put(prefix + base, count[0] == 0 ? Double.NaN : s[0] / count[0]);
          continue;
        }
      }
      out.put(prefix + key, s[1] == 0 ? Double.NaN : s[0] / s[1]);
    }
    return out;
  }

  /** Reference log-prob sums of every response of every group, computed once, without a graph. */
  public static float[][] precompute(
      ReferenceModel ref, List<ResponseGroup> groups, long padId, int microBatch) {
    float[][] out = new float[groups.size()][];
    for (int start = 0; start < groups.size(); start += microBatch) {
      int end = Math.min(groups.size(), start + microBatch);
      List<SftExample> rows = new ArrayList<>();
      for (int g = start; g < end; g++) {
        ResponseGroup group = groups.get(g);
        for (long[] r : group.responses()) {
          rows.add(row(group.prompt(), r, group.line()));
        }
      }
      try (NDManager m = ref.model().manager().newSubManager()) {
        float[] sums = sequenceLogps(m, null, ref, rows, padId).toFloatArray();
        int k = 0;
        for (int g = start; g < end; g++) {
          out[g] = new float[groups.get(g).size()];
          for (int j = 0; j < out[g].length; j++) {
            out[g][j] = sums[k++];
          }
        }
      }
    }
    return out;
  }
}
