package ai.tilt.loss;

import static ai.tilt.loss.LossMath.col;
import static ai.tilt.loss.LossMath.require;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.tilt.doc.Doc;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Bradley-Terry loss of a reward model trained on preference pairs: Stiennon et al., 2020,
 * "Learning to summarize from human feedback", arXiv:2009.01325, and Ouyang et al., 2022, "Training
 * language models to follow instructions with human feedback", arXiv:2203.02155. The optional
 * margin follows Touvron et al., 2023, "Llama 2: Open Foundation and Fine-Tuned Chat Models",
 * arXiv:2307.09288; the centring term follows Eisenstein et al., 2023, "Helping or Herding? Reward
 * Model Ensembles Mitigate but do not Eliminate Reward Hacking", arXiv:2312.09244 (TRL's {@code
 * center_rewards_coefficient}).
 *
 * <p>Intuition: a logistic regression on score differences, so the model's scalar score ranks
 * chosen above rejected; the centring term pins the otherwise free offset of the scores near 0.
 *
 * <p>Conventions: scores are (G, 2), column 0 chosen, column 1 rejected, each a scalar reward with
 * a graph to the reward model; the loss of a group is -log sigmoid(s_c - s_r - m) + c (s_c +
 * s_r)^2, where m is the group's margin when {@code margin: true} (the data's score difference) and
 * 0 otherwise, and c is {@code center_rewards_coefficient} (no term when unset, TRL's default; TRL
 * recommends 0.01). TRL takes the mean of (s_c + s_r)^2 over the batch; per group it is the same
 * once averaged.
 *
 * <p>Metrics (per group, detached): rewards/chosen = s_c, rewards/rejected = s_r, rewards/margins =
 * s_c - s_r, rewards/accuracies = 1 if s_c > s_r else 0.
 *
 * @param margin subtract the data's margin from the score difference (default false)
 * @param centerRewardsCoefficient weight of (s_c + s_r)^2 (default null: no centring)
 */
public record RewardModelLoss(
    @Doc(
            "subtract each pair's margin (the data's score difference) inside the logistic loss (Llama 2)")
        Boolean margin,
    @Doc("weight of (s_c + s_r)^2, which keeps scores centred on 0 (unset: off; TRL suggests 0.01)")
        Double centerRewardsCoefficient)
    implements Loss {

  public RewardModelLoss {
    margin = margin != null && margin;
    if (centerRewardsCoefficient != null) {
      LossMath.nonNegative("center_rewards_coefficient", centerRewardsCoefficient);
    }
  }

  @Override
  @JsonIgnore
  public String type() {
    return "reward_model";
  }

  @Override
  public boolean needsReference() {
    return false;
  }

  @Override
  public boolean trainsRewardModel() {
    return true;
  }

  @Override
  public <R> R match(Cases<R> cases) {
    return cases.rewardModel(this);
  }

  /**
   * The loss and metrics of a micro-batch.
   *
   * @param scores (G, 2) chosen and rejected rewards, with a graph
   * @param margins (G) each pair's margin, no graph; required when {@code margin} is set, ignored
   *     otherwise (may be null)
   */
  public LossOutput compute(NDArray scores, NDArray margins) {
    require(scores != null, "reward_model: scores are missing");
    Shape s = scores.getShape();
    require(
        s.dimension() == 2 && s.get(1) == 2 && s.get(0) >= 1,
        "reward_model: scores must be (G, 2), got " + s);
    NDArray chosen = col(scores, 0); // (G)
    NDArray rejected = col(scores, 1); // (G)
    NDArray diff = chosen.sub(rejected); // (G)
    NDArray logit = diff;
    if (margin) {
      require(margins != null, "reward_model: loss.margin is set but no margins were given");
      require(
          margins.getShape().equals(new Shape(s.get(0))),
          "reward_model: margins must be (" + s.get(0) + "), got " + margins.getShape());
      logit = diff.sub(margins.stopGradient());
    }
    NDArray loss = LossMath.logisticLoss(logit); // (G)
    if (centerRewardsCoefficient != null && centerRewardsCoefficient > 0) {
      loss =
          loss.add(
              Scalars.mul(chosen.add(rejected).square(), centerRewardsCoefficient.floatValue()));
    }
    Map<String, NDArray> m = new LinkedHashMap<>();
    m.put("rewards/chosen", chosen.stopGradient());
    m.put("rewards/rejected", rejected.stopGradient());
    m.put("rewards/margins", diff.stopGradient());
    m.put("rewards/accuracies", LossMath.mask(diff.stopGradient().gt(0f)));
    return new LossOutput(loss, m);
  }
}
