package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.data.Batches;
import ai.tilt.data.SftExample;
import ai.tilt.loss.Aggregation;
import ai.tilt.loss.Sft;
import ai.tilt.model.CausalLM;
import ai.tilt.runtime.Scalars;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The SFT loss over an accumulation window: pads each micro-batch, runs the LM head only from the
 * first target position on, and divides each micro-batch's sum by the window's normaliser, so that
 * k accumulated micro-batches give the same gradient as one batch k times larger.
 */
public final class SftObjective implements DatasetObjective {
  private final CausalLM model;
  private final long padId;
  private final Aggregation normalization;
  private final List<SftExample> train;
  private final List<SftExample> eval;
  private final String summary;

  /** Without data: for benchmarks and tests that build windows from examples directly. */
  public SftObjective(CausalLM model, long padId, Aggregation normalization) {
    this(model, padId, normalization, List.of(), List.of(), "");
  }

  public SftObjective(
      CausalLM model,
      long padId,
      Aggregation normalization,
      List<SftExample> train,
      List<SftExample> eval,
      String summary) {
    this.model = model;
    this.padId = padId;
    if (normalization == Aggregation.SEQ_MEAN_TOKEN_SUM_NORM) {
      // its constant is the longest completion, which only sampled completions have
      throw new IllegalArgumentException(
          "train.loss_normalization: seq_mean_token_sum_norm is for policy-gradient losses; SFT"
              + " takes per_token or per_sequence");
    }
    this.normalization = normalization;
    this.train = train;
    this.eval = eval;
    this.summary = summary;
  }

  @Override
  public int trainSize() {
    return train.size();
  }

  @Override
  public Window prepare(List<List<Integer>> micros) {
    List<List<SftExample>> rows = new ArrayList<>();
    for (List<Integer> micro : micros) {
      List<SftExample> r = new ArrayList<>();
      for (int i : micro) {
        r.add(train.get(i));
      }
      rows.add(r);
    }
    return window(rows);
  }

  @Override
  public NDArray microLoss(NDManager step, Objective.Window w, int i) {
    return microLoss(step, (SftWindow) w, i);
  }

  @Override
  public MetricSums metrics(Objective.Window w) {
    MetricSums m = new MetricSums();
    m.total("train/target_tokens", ((SftWindow) w).targetTokens());
    return m;
  }

  @Override
  public boolean hasEval() {
    return !eval.isEmpty();
  }

  @Override
  public Map<String, Double> evaluate(NDManager parent, int microBatch) {
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("eval/loss", evalLoss(parent, eval, microBatch));
    return m;
  }

  @Override
  public String describe() {
    return summary + (eval.isEmpty() ? "" : "; " + eval.size() + " eval examples");
  }

  /** A window ready to run: padded micro-batches, and what their loss is a mean over. */
  public static final class SftWindow extends Objective.Normalised {
    private final List<Batches.PaddedBatch> batches;
    private final long tokens;
    private final long targetTokens;

    /**
     * @param denominator target tokens (per_token) or sequences (per_sequence) of the window
     * @param tokens real tokens in the window (prompt + completion)
     * @param targetTokens tokens trained on
     */
    SftWindow(
        List<Batches.PaddedBatch> batches, double denominator, long tokens, long targetTokens) {
      super(denominator);
      this.batches = batches;
      this.tokens = tokens;
      this.targetTokens = targetTokens;
    }

    public List<Batches.PaddedBatch> batches() {
      return batches;
    }

    @Override
    public int microBatches() {
      return batches.size();
    }

    @Override
    public long tokens() {
      return tokens;
    }

    public long targetTokens() {
      return targetTokens;
    }
  }

  public SftWindow window(List<List<SftExample>> micros) {
    List<Batches.PaddedBatch> batches = new ArrayList<>();
    long tokens = 0;
    long targets = 0;
    long sequences = 0;
    for (List<SftExample> micro : micros) {
      batches.add(Batches.pad(micro, padId, false));
      for (SftExample e : micro) {
        tokens += e.ids().length;
        for (boolean t : e.targets()) {
          targets += t ? 1 : 0;
        }
        sequences++;
      }
    }
    double denominator = normalization == Aggregation.PER_TOKEN ? targets : sequences;
    return new SftWindow(batches, denominator, tokens, targets);
  }

  /** Micro-batch {@code i}'s share of the window loss (graph built when a collector is open). */
  public NDArray microLoss(NDManager step, SftWindow w, int i) {
    Batches.PaddedBatch b = w.batches().get(i);
    Shape shape = new Shape(b.rows(), b.width());
    NDArray ids = step.create(b.ids(), shape);
    NDArray mask = step.create(b.mask(), shape);
    int from = Rows.firstTarget(b);
    NDArray logp = model.tokenLogprobs(ids, mask, from); // (B, T - from)
    NDArray targets = step.create(b.targets(), shape).get(":, {}:", from); // (B, T - from)
    NDArray sum =
        normalization == Aggregation.PER_TOKEN
            ? Sft.tokenSum(logp, targets)
            : Sft.sequenceSum(logp, targets);
    return Scalars.div(sum, (float) w.divisor());
  }

  /** Mean per-token negative log-likelihood of the targets, without a graph. */
  public double evalLoss(NDManager parent, List<SftExample> examples, int microBatch) {
    double sum = 0;
    long count = 0;
    for (int start = 0; start < examples.size(); start += microBatch) {
      List<SftExample> rows =
          examples.subList(start, Math.min(examples.size(), start + microBatch));
      Batches.PaddedBatch b = Batches.pad(rows, padId, false);
      try (NDManager m = parent.newSubManager()) {
        Shape shape = new Shape(b.rows(), b.width());
        int from = Rows.firstTarget(b);
        NDArray logp =
            model.tokenLogprobs(m.create(b.ids(), shape), m.create(b.mask(), shape), from);
        NDArray targets = m.create(b.targets(), shape).get(":, {}:", from);
        sum += Sft.tokenSum(logp, targets).getFloat();
        count += (long) targets.sum().getFloat();
      }
    }
    return sum / Math.max(1, count);
  }
}
