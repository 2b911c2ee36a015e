package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.data.Batches;
import ai.tilt.data.ResponseGroup;
import ai.tilt.data.SftExample;
import ai.tilt.loss.AdvantageOutput;
import ai.tilt.loss.Aggregation;
import ai.tilt.loss.PolicyGradientLoss;
import ai.tilt.loss.PolicyInputs;
import ai.tilt.loss.TokenLossOutput;
import ai.tilt.model.CausalLM;
import ai.tilt.runtime.Scalars;
import java.util.ArrayList;
import java.util.List;

/**
 * The policy-gradient losses over one rollout: each row (a prompt and one sampled completion) with
 * its per-token advantages, old log-probs and reference log-probs laid out in the same padded (R,
 * W) grid as the policy's log-probs, W being the positions from the first completion token on.
 * Minibatches are addressed by prompt (all C responses of a prompt train together). The per-token
 * losses are aggregated over the accumulation window by {@link Aggregation}. With {@code
 * online.mask_truncated_completions}, a completion cut at max_new_tokens has no loss tokens at all
 * (DAPO's overlong filtering, Yu et al., 2025, section 3.4; TRL's mask_truncated_completions): it
 * still counts as a sequence of per_sequence and seq_mean_token_sum_norm, as in TRL.
 */
final class PolicyObjective implements Objective {
  private final Policy policy;
  private final PolicyGradientLoss loss;
  private final long padId;
  private final Rollout rollout;
  private final float[][] advantages; // [row][token]
  private final float[][] oldValues; // [row][token], PPO
  private final float[][] returns; // [row][token], PPO
  private final Aggregation aggregation;
  private final int maxNewTokens; // seq_mean_token_sum_norm's constant
  private final boolean maskTruncated;
  private final boolean ratioIsOne; // no old log-probs: on-policy, the ratio is exactly 1
  private boolean packing = true; // tests turn it off to compare

  PolicyObjective(
      Policy policy,
      PolicyGradientLoss loss,
      long padId,
      Rollout rollout,
      AdvantageOutput advantages,
      float[][] oldValues,
      Aggregation aggregation,
      int maxNewTokens,
      boolean maskTruncated,
      boolean ratioIsOne) {
    this.policy = policy;
    this.loss = loss;
    this.padId = padId;
    this.rollout = rollout;
    this.advantages = advantages.advantages();
    this.oldValues = oldValues;
    this.returns = advantages.returns();
    this.aggregation = aggregation;
    this.maxNewTokens = maxNewTokens;
    this.maskTruncated = maskTruncated;
    this.ratioIsOne = ratioIsOne;
  }

  /** With {@code false}, every row runs alone even where packing pays (tests compare the two). */
  PolicyObjective packing(boolean on) {
    this.packing = on;
    return this;
  }

  /** Whether row r's tokens enter the loss. */
  private boolean trains(int row) {
    return !maskTruncated || rollout.finished()[row];
  }

  /** A window: micro-batches of rows, and metric sums filled in as they run. */
  static final class RowWindow extends Objective.Normalised {
    final List<int[]> micros; // rows of each micro-batch
    final long tokens;
    final MetricSums sums = new MetricSums();

    RowWindow(List<int[]> micros, double denominator, long tokens) {
      super(denominator);
      this.micros = micros;
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
  public Window prepare(List<List<Integer>> micros) {
    int c = rollout.samplesPerPrompt();
    List<int[]> rows = new ArrayList<>();
    long completionTokens = 0;
    long tokens = 0;
    int sequences = 0;
    for (List<Integer> micro : micros) {
      int[] r = new int[micro.size() * c];
      int k = 0;
      for (int g : micro) {
        for (int j = 0; j < c; j++) {
          int row = g * c + j;
          r[k++] = row;
          completionTokens += trains(row) ? rollout.completions()[row].length : 0;
          tokens += rollout.completions()[row].length + rollout.prompts().get(g).ids().length;
          sequences++;
        }
      }
      rows.add(r);
    }
    double denominator = aggregation.denominator(completionTokens, sequences, maxNewTokens);
    return new RowWindow(rows, denominator, tokens);
  }

  @Override
  public NDArray microLoss(NDManager step, Window w, int i) {
    RowWindow rw = (RowWindow) w;
    int[] rows = rw.micros.get(i);
    CausalLM model = policy.model();
    boolean values = policy.learnsValues(); // PPO: the value head's predictions are trained too
    int c = rollout.samplesPerPrompt();
    List<ResponseGroup> groups =
        values || !packing
            ? null
            : PolicyRows.groups(rollout.prompts(), c, rollout.completions(), rows);
    int width;
    int[] shift = new int[rows.length]; // row k's token j sits in column shift[k] + j
    NDArray logps; // (R, W)
    NDArray states = null; // (R, W, d), PPO
    if (groups != null && PackedRows.pays(groups, model.config())) {
      // each prompt runs once for its C completions; the log-probs come back to the rows' grid
      PackedRows packed = PackedRows.pack(groups, padId, model.config().slidingWindow());
      width = 0;
      for (int r : rows) {
        width = Math.max(width, rollout.completions()[r].length);
      }
      long[] grid = packed.responseGrid(groups, width);
      NDArray flat = packed.targetLogps(step, model).reshape(1, -1); // (1, G * M)
      logps =
          flat.gather(step.create(grid, new Shape(1, grid.length)), 1)
              .reshape(rows.length, width); // (R, W)
    } else {
      List<SftExample> examples = new ArrayList<>();
      for (int r : rows) {
        examples.add(Rows.row(rollout.promptOf(r).ids(), rollout.completions()[r], 0));
      }
      Batches.PaddedBatch b = Batches.pad(examples, padId, false);
      int from = Rows.firstTarget(b);
      width = b.width() - from;
      for (int k = 0; k < rows.length; k++) {
        shift[k] = rollout.promptOf(rows[k]).ids().length - from;
      }
      Shape shape = new Shape(b.rows(), b.width());
      NDArray ids = step.create(b.ids(), shape);
      NDArray mask = step.create(b.mask(), shape);
      NDArray hidden = model.hidden(ids, mask, CausalLM.positionsFromMask(mask), null); // (R, T, d)
      states = hidden.get(":, {}:{}", from - 1, b.width() - 1); // each state predicts the next
      logps = model.targetLogprobs(states, ids.get(":, {}:", from)); // (R, W)
    }
    float[] old = new float[rows.length * width];
    float[] ref = new float[rows.length * width];
    float[] adv = new float[rows.length * width];
    float[] oldV = new float[rows.length * width];
    float[] ret = new float[rows.length * width];
    float[] tokenMask = new float[rows.length * width];
    for (int k = 0; k < rows.length; k++) {
      int r = rows[k];
      for (int j = 0; j < rollout.completions()[r].length; j++) {
        int col = k * width + shift[k] + j;
        old[col] = rollout.oldLogps()[r][j];
        ref[col] = rollout.refLogps()[r][j];
        adv[col] = advantages[r][j];
        if (values) {
          oldV[col] = oldValues[r][j];
          ret[col] = returns[r][j];
        }
        tokenMask[col] = trains(r) ? 1 : 0;
      }
    }
    Shape rw2 = new Shape(rows.length, width);
    NDArray maskArr = step.create(tokenMask, rw2);
    NDArray predicted = values ? policy.values(states) : null; // (R, W)
    TokenLossOutput out =
        loss.compute(
            new PolicyInputs(
                logps,
                ratioIsOne ? null : step.create(old, rw2),
                loss.needsReference() ? step.create(ref, rw2) : null,
                maskArr,
                step.create(adv, rw2),
                predicted,
                values ? step.create(oldV, rw2) : null,
                values ? step.create(ret, rw2) : null));
    NDArray total = aggregation.numerator(out.perToken(), maskArr);
    rw.sums.add(out.metrics());
    return Scalars.div(total, (float) rw.divisor());
  }

  @Override
  public MetricSums metrics(Window w) {
    return ((RowWindow) w).sums;
  }
}
