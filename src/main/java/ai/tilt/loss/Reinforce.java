package ai.tilt.loss;

import static ai.tilt.loss.LossMath.mask;
import static ai.tilt.loss.LossMath.require;

import ai.djl.ndarray.NDArray;
import ai.tilt.doc.Doc;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/**
 * REINFORCE: Williams, 1992, "Simple statistical gradient-following algorithms for connectionist
 * reinforcement learning" (Machine Learning 8; no arXiv id), as the on-policy baseline of Tajwar et
 * al., 2024, arXiv:2404.14367 (section 3; code {@code llm_experiment/trainers/reinforce*.py}).
 *
 * <p>Intuition: raise the log-likelihood of completions that scored above the baseline and lower it
 * for those below (a negative gradient), in proportion to the advantage.
 *
 * <p>Per-token loss: -clip(A_t, -c, c) logp_t (+ kl_beta KL_t when kl_beta > 0), c = {@code
 * clip_advantage}: the advantages are clipped here (the paper's code clamps them at 10 inside its
 * loss), so pass them unclipped; {@code clip_ratio} is the fraction of tokens whose advantage was
 * clipped. There is no importance ratio: as in the paper's code, reusing a batch (T > 1 passes)
 * repeats the plain on-policy gradient; oldLogps only feed {@code approx_kl}. With the trainer's
 * {@code per_token} normalisation the loss is the code's token mean sum(-A logp m) / sum(m).
 *
 * <p>Advantages A = r - b (sequence-level, repeated on each token) are computed once per collected
 * batch by {@link #advantages}, with b chosen by {@code baseline}: {@code moving_average} the mean
 * of every reward seen so far, this batch included (the paper's scripts: {@code baseline_type
 * moving_average}); {@code ema} b &lt;- decay b + (1 - decay) mean(r) (the code's {@code
 * exponentially_moving_average}, decay 0.9); {@code batch_mean}; or {@code none} (b = 0).
 *
 * <p>KL: the code's optional term is kl_weight 0.5 (logp - ref)^2 against the reference (k2;
 * kl_weight 0 in every released script); {@code kl_estimator} also allows k1 and k3 ({@link Kl}).
 *
 * @param baseline moving_average (default), ema, batch_mean or none
 * @param baselineDecay decay of the ema baseline (default 0.9)
 * @param clipAdvantage clamp on |A| (default 10, the paper's code)
 * @param klBeta weight of the KL term in the loss (default 0)
 * @param klEstimator k1, k2 (default, the paper's code) or k3
 */
public record Reinforce(
    @Doc(
            "baseline b of A = r - b: moving_average (mean of all rewards seen, the paper's), ema, batch_mean or none")
        BaselineType baseline,
    @Doc("ema baseline: b <- decay b + (1 - decay) mean(rewards) (default 0.9)")
        Double baselineDecay,
    @Doc("advantages are clamped to [-c, c] (default 10, the paper's code)") Double clipAdvantage,
    @Doc(
            "weight of a KL(pi || ref) term in the loss (default 0: none; then no reference is needed)")
        Double klBeta,
    @Doc("per-token KL estimator of that term: k1, k2 (the paper's code) or k3")
        Kl.Estimator klEstimator)
    implements PolicyGradientLoss {

  /** The baseline b of A = r - b ({@code baseline}). */
  public enum BaselineType {
    /** The mean of every reward seen so far, this batch included (the paper's scripts). */
    @JsonProperty("moving_average")
    MOVING_AVERAGE,
    /** b &lt;- decay b + (1 - decay) mean(r). */
    @JsonProperty("ema")
    EMA,
    /** The mean reward of this batch. */
    @JsonProperty("batch_mean")
    BATCH_MEAN,
    /** b = 0. */
    @JsonProperty("none")
    NONE
  }

  public Reinforce {
    baseline = baseline == null ? BaselineType.MOVING_AVERAGE : baseline;
    baselineDecay = baselineDecay == null ? 0.9 : baselineDecay;
    clipAdvantage = clipAdvantage == null ? 10.0 : clipAdvantage;
    klBeta = klBeta == null ? 0.0 : klBeta;
    klEstimator = klEstimator == null ? Kl.Estimator.K2 : klEstimator;
    require(
        baselineDecay >= 0 && baselineDecay < 1,
        "loss.baseline_decay must be in [0, 1), got " + baselineDecay);
    LossMath.positive("clip_advantage", clipAdvantage);
    LossMath.nonNegative("kl_beta", klBeta);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "reinforce";
  }

  @Override
  public boolean needsReference() {
    return klBeta > 0;
  }

  @Override
  public boolean needsValues() {
    return false;
  }

  /** Sequence advantages of a batch and the baseline state to carry to the next one. */
  public record Step(double[] advantages, Advantages.Baseline baseline) {}

  /**
   * A = r - b for a batch of sequence rewards (unclipped; compute clips), with b from {@code
   * baseline}; {@code before} is the carried state (only moving_average and ema change it).
   */
  public Step advantages(double[] rewards, Advantages.Baseline before) {
    return switch (baseline) {
      case MOVING_AVERAGE -> {
        Advantages.Baseline after = before.accumulate(rewards);
        yield new Step(after.advantages(rewards), after);
      }
      case EMA -> {
        Advantages.Baseline after = before.update(rewards, baselineDecay);
        yield new Step(after.advantages(rewards), after);
      }
      case BATCH_MEAN -> new Step(Advantages.batchMean(rewards), before);
      case NONE -> new Step(rewards.clone(), before);
    };
  }

  /** A = r - b with the KL penalty in r; the baseline moves as {@code baseline} says. */
  @Override
  public AdvantageOutput advantages(AdvantageInputs in) {
    Step s = advantages(in.penalisedRewards(), in.baseline());
    return AdvantageOutput.ofSequences(s.advantages(), in, s.baseline()); // clipped in compute
  }

  @Override
  public TokenLossOutput compute(PolicyInputs in) {
    PolicyMath.Tokens t = PolicyMath.prepare(type(), in, needsReference(), false);
    float c = clipAdvantage.floatValue();
    NDArray a = t.adv().clip(-c, c); // (B, T) constants
    NDArray clipped = mask(t.adv().abs().gt(c));
    NDArray pg = t.logp().mul(a).neg(); // (B, T)
    NDArray loss = pg;
    if (klBeta > 0) {
      loss = loss.add(Scalars.mul(PolicyMath.kl(klEstimator, t, true), klBeta.floatValue()));
    }
    Map<String, NDArray> m =
        PolicyMath.metrics(t, pg, clipped, PolicyMath.kl(klEstimator, t, false));
    return new TokenLossOutput(loss.mul(t.m()), m);
  }
}
