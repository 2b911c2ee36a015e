package ai.tilt.loss;

import static ai.tilt.loss.LossMath.mask;
import static ai.tilt.loss.LossMath.require;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.tilt.doc.Doc;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.Map;

/**
 * Proximal Policy Optimization: Schulman, Wolski, Dhariwal, Radford and Klimov, 2017, "Proximal
 * Policy Optimization Algorithms", arXiv:1707.06347; for language models Ziegler et al., 2019,
 * "Fine-Tuning Language Models from Human Preferences", arXiv:1909.08593; as TRL's PPO trainer,
 * which the Tajwar et al. 2024 code runs (paper section 3).
 *
 * <p>Intuition: follow the advantage-weighted likelihood ratio against the sampling policy, but
 * only within a trust region (the clip), with a learned value head as the baseline.
 *
 * <p>Per-token loss: pg_t + vf_coef vl_t, with pg_t = -min(r A, clip(r, 1 - cliprange, 1 +
 * cliprange) A), r = exp(logp - old) per token, and vl_t = 0.5 max((v - R)^2, (clip(v, v_old -
 * cliprange_value, v_old + cliprange_value) - R)^2) (TRL: {@code vf_loss = 0.5
 * masked_mean(max(..))}, {@code loss = pg_loss + vf_coef vf_loss}; with per_token normalisation the
 * same token means). TRL's current PPO trainer keeps values for one position past EOS; here the
 * value loss covers exactly the mask.
 *
 * <p>{@link #advantages} computes A and R once per collected batch: per-token rewards with the KL
 * penalty in the reward ({@link Advantages#tokenRewardsWithKl}, coefficient fixed or {@link
 * Kl.AdaptiveKlController}), then {@link Advantages#gae} with {@code gamma} and {@code lam}, then
 * {@link Advantages#whiten} of the advantages when {@code whiten_advantages}. So the loss itself
 * reads no reference; when one is given, {@code kl} reports mean k1.
 *
 * @param cliprange clip range of the per-token ratio (default 0.2)
 * @param cliprangeValue clip range of the value prediction around its collection-time value
 *     (default 0.2)
 * @param vfCoef weight of the value loss (default 0.1)
 * @param gamma GAE discount (default 1.0)
 * @param lam GAE lambda (default 0.95)
 * @param whitenAdvantages whiten GAE advantages over the batch (default true, as TRL)
 * @param dualClip the dual clip's c > 1 (Ye et al., 2020; see {@link PolicyMath#clippedSurrogate}),
 *     or null for none
 */
public record Ppo(
    @Doc("clip range of the per-token importance ratio (TRL default 0.2)") Double cliprange,
    @Doc("clip range of the value prediction around its collection-time value (TRL default 0.2)")
        Double cliprangeValue,
    @Doc("weight of the value loss (TRL default 0.1)") Double vfCoef,
    @Doc("GAE discount gamma (default 1.0)") Double gamma,
    @Doc("GAE lambda (default 0.95)") Double lam,
    @Doc("whiten the GAE advantages over the batch (mean 0, std 1), as TRL (default true)")
        Boolean whitenAdvantages,
    @Doc(
            "c > 1: a negative advantage's objective is bounded below by c A (dual clip, Ye et al.,"
                + " 2020; verl's clip_ratio_c: 3); null: none")
        Double dualClip)
    implements PolicyGradientLoss {

  public Ppo {
    cliprange = cliprange == null ? 0.2 : cliprange;
    cliprangeValue = cliprangeValue == null ? 0.2 : cliprangeValue;
    vfCoef = vfCoef == null ? 0.1 : vfCoef;
    gamma = gamma == null ? 1.0 : gamma;
    lam = lam == null ? 0.95 : lam;
    whitenAdvantages = whitenAdvantages == null || whitenAdvantages;
    require(cliprange > 0 && cliprange < 1, "loss.cliprange must be in (0, 1), got " + cliprange);
    LossMath.positive("cliprange_value", cliprangeValue);
    LossMath.nonNegative("vf_coef", vfCoef);
    require(gamma >= 0 && gamma <= 1, "loss.gamma must be in [0, 1], got " + gamma);
    require(lam >= 0 && lam <= 1, "loss.lam must be in [0, 1], got " + lam);
    require(
        dualClip == null || (dualClip > 1 && Double.isFinite(dualClip)),
        "loss.dual_clip must be > 1 (verl uses 3), got " + dualClip);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "ppo";
  }

  @Override
  public boolean needsReference() {
    return false;
  }

  @Override
  public boolean needsValues() {
    return true;
  }

  /**
   * TRL's recipe: per-token rewards with the k1 KL penalty (the sequence reward on the last token),
   * GAE over the collection-time values, then whitening of the advantages when asked.
   */
  @Override
  public AdvantageOutput advantages(AdvantageInputs in) {
    LossMath.require(in.oldValues() != null, "ppo: the advantages need collection-time values");
    float[][] tokenRewards =
        Advantages.tokenRewardsWithKl(in.rewards(), in.oldLogps(), in.refLogps(), in.klCoef());
    Advantages.Gae gae = Advantages.gae(tokenRewards, in.oldValues(), gamma, lam);
    float[][] adv = whitenAdvantages ? Advantages.whiten(gae.advantages()) : gae.advantages();
    return new AdvantageOutput(adv, gae.returns(), in.baseline());
  }

  @Override
  public TokenLossOutput compute(PolicyInputs in) {
    PolicyMath.Tokens t = PolicyMath.prepare(type(), in, false, true);
    PolicyMath.Surrogate s =
        PolicyMath.clippedSurrogate(
            PolicyMath.tokenLogRatio(t),
            t.adv(),
            cliprange,
            cliprange,
            dualClip == null ? 0 : dualClip);
    float cv = cliprangeValue.floatValue();
    NDArray v = t.values(); // (B, T) with graph
    NDArray vClipped = v.sub(t.oldValues()).clip(-cv, cv).add(t.oldValues());
    NDArray e1 = v.sub(t.returns());
    NDArray e2 = vClipped.sub(t.returns());
    NDArray sq1 = e1.mul(e1);
    NDArray sq2 = e2.mul(e2);
    NDArray useClipped =
        sq2.stopGradient().gt(sq1.stopGradient()); // where the clipped error is the max
    NDArray vl = Scalars.mul(NDArrays.where(useClipped, sq2, sq1), 0.5f); // (B, T)
    NDArray loss = s.loss().add(Scalars.mul(vl, vfCoef.floatValue()));
    Map<String, NDArray> m =
        PolicyMath.metrics(t, s.loss(), s.clipped(), PolicyMath.kl(Kl.Estimator.K1, t, false));
    if (dualClip != null) {
      m.put("dual_clip_ratio", PolicyMath.seqMean(s.dualClipped(), t.m()));
    }
    m.put("value_loss", PolicyMath.seqMean(vl, t.m()));
    m.put("value_clip_ratio", PolicyMath.seqMean(mask(useClipped), t.m()));
    return new TokenLossOutput(loss.mul(t.m()), m);
  }
}
