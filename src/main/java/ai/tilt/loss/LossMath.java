package ai.tilt.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.tilt.runtime.Scalars;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Numerically stable pieces and input checks shared by the losses. Everything that must carry a
 * gradient is built from plain arithmetic (mul, add, exp, log), whose gradients are exact
 * everywhere; kinks (abs, min, relu) are avoided because torch picks a subgradient at 0, and h = 0
 * is exactly where DPO-style losses start (policy == reference).
 */
final class LossMath {
  private LossMath() {}

  /**
   * log sigmoid(x) = min(x, 0) - log(1 + exp(-|x|)), finite with a finite gradient for any finite
   * x. The branch (x >= 0) is a constant 0/1 mask, so |x| = x * s with s = +-1 has gradient s
   * (never torch's sign(0) = 0), and d/dx = sigmoid(-x) holds at x = 0 too (0.5).
   */
  static NDArray logSigmoid(NDArray x) {
    NDArray pos = mask(x.gte(0f)); // constant: 1 where x >= 0
    NDArray sign = Scalars.mul(pos, 2f).sub(1f); // constant: +1 / -1
    NDArray negPart = x.mul(pos.neg().add(1f)); // min(x, 0)
    // exp(-|x|) is in (0, 1]: no overflow; log(1 + u) loses only u < 6e-8 (absolute), harmless
    return negPart.sub(x.mul(sign).neg().exp().add(1f).log());
  }

  /** -log sigmoid(x) = softplus(-x): the logistic loss of a margin x. */
  static NDArray logisticLoss(NDArray x) {
    return logSigmoid(x).neg();
  }

  /**
   * log(1 - exp(a)) for log-probabilities a < 0 (the log of the probability of "not a"). Near 0, 1
   * - exp(a) cancels catastrophically in float32, so for a >= -0.1 it uses -expm1(a) from its
   * series -a (1 + a/2 + a^2/6 + a^3/24 + a^4/120 + a^5/720) (relative error < 3e-10 there); a is
   * capped at -1e-6 so a certain response (a = 0, or a rounded above 0) gives log(1e-6) rather than
   * -inf. Both branches get inputs inside their own domain, so neither makes a NaN gradient.
   */
  static NDArray log1mExp(NDArray a) {
    NDArray x = Scalars.minimum(a, -1e-6f);
    NDArray small = mask(x.gte(-0.1f)); // constant: 1 where the series is used
    NDArray large = small.neg().add(1f);
    NDArray s =
        x.mul(small).add(Scalars.mul(large, -0.05f)); // x where small, a harmless -0.05 elsewhere
    NDArray l = x.mul(large).add(Scalars.mul(small, -1f)); // x where large, a harmless -1 elsewhere
    NDArray poly =
        Scalars.div(s, 720f)
            .add(1f / 120f)
            .mul(s)
            .add(1f / 24f)
            .mul(s)
            .add(1f / 6f)
            .mul(s)
            .add(0.5f)
            .mul(s)
            .add(1f);
    NDArray seriesLog = s.neg().log().add(poly.log()); // log(-s) + log(poly) = log(-expm1(s))
    NDArray directLog = l.exp().neg().add(1f).log();
    return seriesLog.mul(small).add(directLog.mul(large));
  }

  /** A 0/1 float mask from a boolean comparison (which has no graph, so toType is safe here). */
  static NDArray mask(NDArray bool) {
    return bool.toType(DataType.FLOAT32, false);
  }

  /** Column i of a (G, N) array, as (G). */
  static NDArray col(NDArray x, int i) {
    return x.get(":, " + i);
  }

  static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }

  /** Checks a hyperparameter bound at construction; the message names the recipe key. */
  static void positive(String key, double v) {
    require(v > 0 && Double.isFinite(v), "loss." + key + " must be > 0, got " + v);
  }

  static void nonNegative(String key, double v) {
    require(v >= 0 && Double.isFinite(v), "loss." + key + " must be >= 0, got " + v);
  }

  static void labelSmoothing(double v) {
    require(v >= 0 && v <= 0.5, "loss.label_smoothing must be in [0, 0.5], got " + v);
  }

  /** Checks the policy is (G, N) with G >= 1 and N == n (n > 0) or N >= min (n = 0); returns N. */
  static int checkPolicy(String loss, Responses r, int n, int min) {
    require(r != null && r.policy() != null, loss + ": policy log-probs are missing");
    Shape s = r.policy().getShape();
    require(s.dimension() == 2 && s.get(0) >= 1, loss + ": policy must be (G, N), got " + s);
    int cols = (int) s.get(1);
    if (n > 0) {
      require(cols == n, loss + ": needs N = " + n + " responses per group, got policy " + s);
    } else {
      require(cols >= min, loss + ": needs N >= " + min + " responses per group, got policy " + s);
    }
    return cols;
  }

  /** The reference log-probs, checked to be present and shaped like the policy's. */
  static NDArray reference(String loss, Responses r) {
    require(
        r.reference() != null, loss + ": needs reference log-probs (Responses.reference is null)");
    sameShape(loss, "reference", r.reference(), r.policy());
    return r.reference();
  }

  /** Response lengths, checked to be shaped like the policy's and >= 1 token. */
  static NDArray lengths(String loss, Responses r) {
    require(r.lengths() != null, loss + ": needs response lengths (Responses.lengths is null)");
    sameShape(loss, "lengths", r.lengths(), r.policy());
    float shortest = r.lengths().min().toType(DataType.FLOAT32, false).getFloat();
    require(shortest >= 1f, loss + ": every response length must be >= 1 token, got " + shortest);
    return r.lengths();
  }

  /** The data's rewards as floats (row-major (G, N)), checked for shape and finiteness. */
  static float[] rewards(String loss, Responses r) {
    require(r.rewards() != null, loss + ": needs rewards (Responses.rewards is null)");
    sameShape(loss, "rewards", r.rewards(), r.policy());
    float[] v = r.rewards().toType(DataType.FLOAT32, false).toFloatArray();
    for (float x : v) {
      require(Float.isFinite(x), loss + ": rewards must be finite, got " + x);
    }
    return v;
  }

  static void sameShape(String loss, String what, NDArray x, NDArray policy) {
    require(
        x.getShape().equals(policy.getShape()),
        loss
            + ": "
            + what
            + " must have the policy's shape "
            + policy.getShape()
            + ", got "
            + x.getShape());
  }

  /**
   * TRL's pair metrics from detached (G) values: rewards/chosen, rewards/rejected, rewards/margins,
   * rewards/accuracies (1 where chosen > rejected), logps/chosen, logps/rejected.
   */
  static Map<String, NDArray> pairMetrics(
      NDArray rewardC, NDArray rewardR, NDArray logpC, NDArray logpR) {
    NDArray c = rewardC.stopGradient();
    NDArray r = rewardR.stopGradient();
    Map<String, NDArray> m = new LinkedHashMap<>();
    m.put("rewards/chosen", c);
    m.put("rewards/rejected", r);
    m.put("rewards/margins", c.sub(r));
    m.put("rewards/accuracies", mask(c.gt(r)));
    m.put("logps/chosen", logpC.stopGradient());
    m.put("logps/rejected", logpR.stopGradient());
    return m;
  }

  /**
   * A (G, N) 0/1 mask of the k highest rewards in each row, ties going to the lower column (a
   * stable choice, so equal rewards give the same selection every run).
   */
  static float[] topK(float[] rewards, int groups, int n, int k) {
    float[] out = new float[groups * n];
    for (int g = 0; g < groups; g++) {
      for (int pick = 0; pick < k; pick++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
          int at = g * n + i;
          if (out[at] == 0f && (best < 0 || rewards[at] > rewards[g * n + best])) {
            best = i; // strict '>' keeps the lowest index among equals
          }
        }
        out[g * n + best] = 1f;
      }
    }
    return out;
  }

  /**
   * Metrics every scored-list loss reports, from detached values: rewards/mean and rewards/max of
   * the group, logps/mean (mean policy log-prob over its N responses) and logps/best (that of the
   * highest-reward response, ties to the lower column).
   */
  static Map<String, NDArray> listMetrics(NDArray logp, float[] rewardValues) {
    Shape s = logp.getShape();
    NDArray best =
        logp.getManager().create(topK(rewardValues, (int) s.get(0), (int) s.get(1), 1), s);
    NDArray rewards = logp.getManager().create(rewardValues, s); // (G, N)
    NDArray lp = logp.stopGradient();
    Map<String, NDArray> m = new LinkedHashMap<>();
    m.put("rewards/mean", rewards.mean(new int[] {1}));
    m.put("rewards/max", rewards.max(new int[] {1}, false));
    m.put("logps/mean", lp.mean(new int[] {1}));
    m.put("logps/best", lp.mul(best).sum(new int[] {1}));
    return m;
  }
}
