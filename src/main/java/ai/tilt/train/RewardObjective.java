package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.data.Batches;
import ai.tilt.data.ResponseGroup;
import ai.tilt.data.SftExample;
import ai.tilt.loss.LossOutput;
import ai.tilt.loss.RewardModelLoss;
import ai.tilt.model.CausalLM;
import ai.tilt.runtime.Scalars;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Bradley-Terry reward-model training on preference pairs: the reward model (a transformer with a
 * scalar score head) scores prompt + chosen and prompt + rejected in one forward, and {@link
 * RewardModelLoss} compares the two scores.
 */
public final class RewardObjective implements DatasetObjective {
  private final CausalLM rewardModel;
  private final RewardModelLoss loss;
  private final long padId;
  private final List<ResponseGroup> train;
  private final List<ResponseGroup> eval;
  private final String summary;

  public RewardObjective(
      CausalLM rewardModel,
      RewardModelLoss loss,
      long padId,
      List<ResponseGroup> train,
      List<ResponseGroup> eval,
      String summary) {
    this.rewardModel = rewardModel;
    this.loss = loss;
    this.padId = padId;
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
    int groups = 0;
    long tokens = 0;
    for (List<Integer> micro : micros) {
      for (int g : micro) {
        groups++;
        ResponseGroup group = train.get(g);
        tokens +=
            2L * group.prompt().length
                + group.responses().get(0).length
                + group.responses().get(1).length;
      }
    }
    return new GroupWindow(micros, groups, tokens);
  }

  @Override
  public NDArray microLoss(NDManager step, Window w, int i) {
    GroupWindow pw = (GroupWindow) w;
    LossOutput out = compute(step, train, pw.micros.get(i));
    pw.sums.add(out.metrics());
    return Scalars.div(out.perGroup().sum(), (float) pw.divisor());
  }

  @Override
  public MetricSums metrics(Window w) {
    return ((GroupWindow) w).sums;
  }

  @Override
  public boolean hasEval() {
    return !eval.isEmpty();
  }

  @Override
  public Map<String, Double> evaluate(NDManager parent, int microBatch) {
    return MetricSums.heldOut(parent, eval.size(), microBatch, (m, idx) -> compute(m, eval, idx));
  }

  @Override
  public String describe() {
    return summary + (eval.isEmpty() ? "" : "; " + eval.size() + " eval pairs");
  }

  private LossOutput compute(NDManager m, List<ResponseGroup> data, List<Integer> idx) {
    int g = idx.size();
    List<SftExample> rows = new ArrayList<>();
    float[] margins = new float[g];
    for (int a = 0; a < g; a++) {
      ResponseGroup pair = data.get(idx.get(a));
      if (pair.size() != 2) {
        throw new IllegalArgumentException(
            "line "
                + pair.line()
                + ": the reward model trains on pairs, got "
                + pair.size()
                + " responses");
      }
      rows.add(Rows.row(pair.prompt(), pair.responses().get(0), pair.line()));
      rows.add(Rows.row(pair.prompt(), pair.responses().get(1), pair.line()));
      margins[a] = (float) (pair.rewards()[0] - pair.rewards()[1]);
    }
    Batches.PaddedBatch b = Batches.pad(rows, padId, false);
    Shape shape = new Shape(b.rows(), b.width());
    NDArray scores =
        rewardModel.scores(m.create(b.ids(), shape), m.create(b.mask(), shape)).reshape(g, 2);
    return loss.compute(scores, m.create(margins));
  }
}
