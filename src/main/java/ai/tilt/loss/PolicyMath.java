package ai.tilt.loss;

import static ai.tilt.loss.LossMath.mask;
import static ai.tilt.loss.LossMath.require;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.types.Shape;
import ai.tilt.runtime.Scalars;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Input checks, masking and the clipped surrogate shared by the policy-gradient losses. Padding is
 * replaced by 0 in every input before any arithmetic ({@code where}, not a multiplication, so NaN
 * or inf in padded cells cannot leak into the loss or its gradient); kinks (min, max) are written
 * as selections by constant masks, so the gradient is the branch's exactly.
 */
final class PolicyMath {
  private PolicyMath() {}

  /**
   * Checked inputs, each (B, T) with padded cells set to 0; {@code old} is logps detached when the
   * caller gave none; old, ref, adv, oldValues and returns are detached.
   *
   * @param m (B, T) float 0/1 mask
   * @param on (B, T) boolean mask
   */
  record Tokens(
      NDArray m,
      NDArray on,
      NDArray logp,
      NDArray old,
      NDArray ref,
      NDArray adv,
      NDArray values,
      NDArray oldValues,
      NDArray returns) {}

  static Tokens prepare(String loss, PolicyInputs in, boolean needRef, boolean needValues) {
    require(in != null && in.logps() != null, loss + ": logps are missing");
    Shape s = in.logps().getShape();
    require(s.dimension() == 2, loss + ": logps must be (B, T), got " + s);
    require(in.mask() != null, loss + ": mask is missing");
    require(in.advantages() != null, loss + ": advantages are missing");
    same(loss, "mask", in.mask(), s);
    same(loss, "advantages", in.advantages(), s);
    same(loss, "oldLogps", in.oldLogps(), s);
    same(loss, "refLogps", in.refLogps(), s);
    if (needRef) {
      require(
          in.refLogps() != null,
          loss + ": needs reference log-probs (PolicyInputs.refLogps is null)");
    }
    if (needValues) {
      require(
          in.values() != null && in.oldValues() != null && in.returns() != null,
          loss + ": needs values, oldValues and returns (a value head)");
      same(loss, "values", in.values(), s);
      same(loss, "oldValues", in.oldValues(), s);
      same(loss, "returns", in.returns(), s);
    }
    NDArray on = in.mask().gt(0f); // (B, T) boolean
    NDArray logp = keep(on, in.logps());
    NDArray old =
        in.oldLogps() == null ? logp.stopGradient() : keep(on, in.oldLogps().stopGradient());
    NDArray ref = in.refLogps() == null ? null : keep(on, in.refLogps().stopGradient());
    NDArray adv = keep(on, in.advantages().stopGradient());
    NDArray values = needValues ? keep(on, in.values()) : null;
    NDArray oldValues = needValues ? keep(on, in.oldValues().stopGradient()) : null;
    NDArray returns = needValues ? keep(on, in.returns().stopGradient()) : null;
    return new Tokens(mask(on), on, logp, old, ref, adv, values, oldValues, returns);
  }

  private static void same(String loss, String what, NDArray x, Shape s) {
    require(
        x == null || x.getShape().equals(s),
        loss
            + ": "
            + what
            + " must be (B, T) = "
            + s
            + " like logps, got "
            + (x == null ? null : x.getShape()));
  }

  /** x where on, 0 elsewhere (keeps x's graph on the kept cells). */
  static NDArray keep(NDArray on, NDArray x) {
    return NDArrays.where(on, x, x.zerosLike());
  }

  /** (B) mean of x over each row's masked cells (0 for a row without any), detached. */
  static NDArray seqMean(NDArray x, NDArray m) {
    NDArray count = Scalars.maximum(m.sum(new int[] {1}), 1f); // (B)
    return x.stopGradient().mul(m).sum(new int[] {1}).div(count);
  }

  /**
   * The clipped surrogate of PPO (Schulman et al. 2017, eq. 7) per token, negated as a loss: -min(r
   * A, clip(r, 1 - low, 1 + high) A) with r = exp(logRatio). The clip is active where (r > 1 + high
   * and A > 0) or (r < 1 - low and A < 0); there the minimum is the constant bound times A and the
   * token has no gradient; elsewhere it is r A with d/d logRatio = r A.
   *
   * <p>Dual clip (Ye et al., 2020, "Mastering Complex Control in MOBA Games with Deep Reinforcement
   * Learning", arXiv:1912.09729, eq. 5; verl's clip_ratio_c): with {@code dual} = c > 1 the
   * objective of a negative advantage is also bounded below, max(min(r A, clip(r) A), c A), so a
   * token whose ratio has grown past c (A < 0) adds the constant -c A and no gradient, instead of a
   * loss that grows without bound with r.
   *
   * @param loss (B, T) with graph
   * @param clipped (B, T) float 0/1 where the ordinary clip is active, no graph
   * @param dualClipped (B, T) float 0/1 where the dual clip is active; null without one
   */
  record Surrogate(NDArray loss, NDArray clipped, NDArray dualClipped) {}

  /**
   * @param logRatio (B, T) log pi - log pi_old with graph: per token, or a sequence's mean repeated
   *     on its tokens ({@link #sequenceLogRatio})
   * @param dual the dual clip's c (> 1), or 0 for none
   */
  static Surrogate clippedSurrogate(
      NDArray logRatio, NDArray adv, double low, double high, double dual) {
    NDArray r = logRatio.stopGradient().exp(); // (B, T)
    NDArray clippedOn =
        r.gt((float) (1 + high))
            .logicalAnd(adv.gt(0f))
            .logicalOr(r.lt((float) (1 - low)).logicalAnd(adv.lt(0f)));
    NDArray bound = r.clip((float) (1 - low), (float) (1 + high));
    NDArray constant = clippedOn;
    NDArray dualOn = null;
    if (dual > 0) {
      dualOn = r.gt((float) dual).logicalAnd(adv.lt(0f));
      constant = clippedOn.logicalOr(dualOn); // disjoint: dual needs r > c > 1 > 1 - low
      bound = NDArrays.where(dualOn, r.zerosLike().add((float) dual), bound);
    }
    // constant cells see exp(0): the unused branch stays finite there, so its zero gradient is not
    // 0 * inf
    NDArray ratio = NDArrays.where(constant, logRatio.zerosLike(), logRatio).exp();
    NDArray objective = NDArrays.where(constant, bound.mul(adv), ratio.mul(adv));
    return new Surrogate(objective.neg(), mask(clippedOn), dualOn == null ? null : mask(dualOn));
  }

  /** The per-token log-ratio logp - old (with graph). */
  static NDArray tokenLogRatio(Tokens t) {
    return t.logp().sub(t.old());
  }

  /**
   * GSPO's sequence log-ratio (Zheng et al., 2025, "Group Sequence Policy Optimization",
   * arXiv:2507.18071, eq. 7): log s_i = (1 / |y_i|) sum_t (logp - old), the log of the geometric
   * mean of the token ratios, repeated on each of the row's tokens (0 on padding), with graph: d
   * log s_i / d logp_t = 1 / |y_i|.
   */
  static NDArray sequenceLogRatio(Tokens t) {
    NDArray count = Scalars.maximum(t.m().sum(new int[] {1}, true), 1f); // (B, 1)
    NDArray mean = t.logp().sub(t.old()).sum(new int[] {1}, true).div(count); // (B, 1)
    return keep(t.on(), mean.add(t.logp().zerosLike())); // (B, T)
  }

  /** The metrics every policy-gradient loss reports (see {@link PolicyGradientLoss}). */
  static Map<String, NDArray> metrics(Tokens t, NDArray policyLoss, NDArray clipped, NDArray kl) {
    NDArray lp = t.logp().stopGradient();
    NDArray d = lp.sub(t.old());
    Map<String, NDArray> out = new LinkedHashMap<>();
    out.put("policy_loss", seqMean(policyLoss, t.m()));
    out.put("clip_ratio", seqMean(clipped, t.m()));
    out.put("approx_kl", seqMean(Scalars.mul(d.mul(d), 0.5f), t.m()));
    if (kl != null) {
      out.put("kl", seqMean(kl, t.m()));
    }
    out.put("entropy_proxy", seqMean(lp.neg(), t.m()));
    out.put("advantages/mean", seqMean(t.adv(), t.m()));
    return out;
  }

  /** The KL estimate for the loss (with graph) or, when only a metric, of detached log-probs. */
  static NDArray kl(Kl.Estimator estimator, Tokens t, boolean inLoss) {
    if (t.ref() == null) {
      return null;
    }
    return estimator.of(inLoss ? t.logp() : t.logp().stopGradient(), t.ref());
  }
}
