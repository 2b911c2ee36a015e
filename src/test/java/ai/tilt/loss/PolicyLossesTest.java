package ai.tilt.loss;

import static ai.tilt.loss.LossFixtures.arr;
import static ai.tilt.loss.LossFixtures.close;
import static ai.tilt.loss.LossFixtures.closeArray;
import static ai.tilt.loss.LossFixtures.fails;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * REINFORCE, RLOO, GRPO and PPO on B = 2 completions of T = 3 cells, the last cell of row 1 padding
 * (index 5 row-major); every gradient is d(sum of perToken) / d logp (or values):
 *
 * <pre>
 *   logp      (-1,   -2,   -0.5), (-0.3,  -1.2, pad)
 *   old       (-1.3, -1.9, -0.5), (-0.05, -1.2, pad)   per-token ratios (1.349859, 0.904837, 1), (0.778801, 1)
 *   ref       (-1.5, -1,   -0.5), (-0.3,  -1.2, pad)   k3 (0.106531, 0.718282, 0), (0, 0)
 *   A         ( 2,    2,    2  ), (-1,    -1,   pad)
 *   values    ( 0.5,  1.0,  0.9), ( 0.2,  -0.1, pad)
 *   oldValues ( 0.4,  0.5,  0.2), ( 0.2,   0.0, pad)
 *   returns   ( 1.0,  0.6,  1.0), ( 0.0,   0.1, pad)
 * </pre>
 */
class PolicyLossesTest {
  static final double[] MASK = {1, 1, 1, 1, 1, 0};

  /** The inputs with {@code pad} in every padded cell. */
  record Batch(
      NDArray logp,
      NDArray old,
      NDArray ref,
      NDArray adv,
      NDArray values,
      NDArray oldValues,
      NDArray returns,
      NDArray mask) {
    static Batch of(NDManager m, double pad) {
      return new Batch(
          arr(m, 2, 3, -1, -2, -0.5, -0.3, -1.2, pad),
          arr(m, 2, 3, -1.3, -1.9, -0.5, -0.05, -1.2, pad),
          arr(m, 2, 3, -1.5, -1, -0.5, -0.3, -1.2, pad),
          arr(m, 2, 3, 2, 2, 2, -1, -1, pad),
          arr(m, 2, 3, 0.5, 1.0, 0.9, 0.2, -0.1, pad),
          arr(m, 2, 3, 0.4, 0.5, 0.2, 0.2, 0.0, pad),
          arr(m, 2, 3, 1.0, 0.6, 1.0, 0.0, 0.1, pad),
          arr(m, 2, 3, MASK));
    }

    PolicyInputs onPolicy(NDArray reference) {
      return PolicyInputs.of(logp, null, reference, mask, adv);
    }

    PolicyInputs all() {
      return new PolicyInputs(logp, old, ref, mask, adv, values, oldValues, returns);
    }
  }

  static void metric(TokenLossOutput out, String name, double... expected) {
    assertTrue(
        out.metrics().containsKey(name),
        "missing metric " + name + " in " + out.metrics().keySet());
    NDArray v = out.metrics().get(name);
    assertFalse(v.hasGradient(), name + " must carry no gradient");
    close(v, expected);
  }

  /** d(sum of perToken) / d x for each x, with the loss built inside the collector. */
  static float[][] gradients(Function<Batch, TokenLossOutput> f, Batch b, NDArray... xs) {
    for (NDArray x : xs) {
      x.setRequiresGradient(true);
    }
    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
      gc.backward(f.apply(b).perToken().sum());
    }
    float[][] out = new float[xs.length][];
    for (int i = 0; i < xs.length; i++) {
      out[i] = xs[i].getGradient().toFloatArray();
    }
    return out;
  }

  static float[] logpGradient(NDManager m, Function<Batch, TokenLossOutput> f) {
    Batch b = Batch.of(m, 0);
    return gradients(f, b, b.logp())[0];
  }

  @Test
  void reinforceIsMinusAdvantageTimesLogp() {
    try (NDManager m = LossFixtures.manager()) {
      Reinforce r = new Reinforce(null, null, null, null, null);
      assertFalse(r.needsReference());
      assertFalse(r.needsValues());
      TokenLossOutput out = r.compute(Batch.of(m, 0).onPolicy(null));
      // -A logp: -2 * (-1, -2, -0.5) = (2, 4, 1); 1 * (-0.3, -1.2) = (-0.3, -1.2); padding 0
      close(out.perToken(), 2, 4, 1, -0.3, -1.2, 0);
      // d loss / d logp = -A: a positive advantage lowers the loss by raising logp
      closeArray(logpGradient(m, b -> r.compute(b.onPolicy(null))), -2, -2, -2, 1, 1, 0);
      metric(out, "policy_loss", 7.0 / 3, -0.75); // (2 + 4 + 1) / 3, (-0.3 - 1.2) / 2
      metric(out, "clip_ratio", 0, 0);
      metric(out, "approx_kl", 0, 0); // no oldLogps: on-policy
      metric(out, "entropy_proxy", 3.5 / 3, 0.75); // -mean logp
      metric(out, "advantages/mean", 2, -1);
      assertFalse(out.metrics().containsKey("kl"));
      assertFalse(out.metrics().containsKey("value_loss"));
      // oldLogps are not used by the loss (the paper's code has no ratio), only by approx_kl:
      // 0.5 (0.3^2 + 0.1^2 + 0) / 3 = 0.016667; 0.5 (0.25^2 + 0) / 2 = 0.015625
      Batch b = Batch.of(m, 0);
      TokenLossOutput withOld =
          r.compute(PolicyInputs.of(b.logp(), b.old(), null, b.mask(), b.adv()));
      close(withOld.perToken(), 2, 4, 1, -0.3, -1.2, 0);
      metric(withOld, "approx_kl", 0.016667, 0.015625);
    }
  }

  @Test
  void reinforceClipsAdvantagesAndCountsTheClippedTokens() {
    try (NDManager m = LossFixtures.manager()) {
      Reinforce r = new Reinforce(null, null, 10.0, null, null);
      Batch b = Batch.of(m, 0);
      NDArray adv = arr(m, 2, 3, 12, 2, -15, -1, 10, 0);
      // A clipped to (10, 2, -10), (-1, 10): -A logp = (10, 4, -5), (-0.3, 12)
      TokenLossOutput out = r.compute(PolicyInputs.of(b.logp(), null, null, b.mask(), adv));
      close(out.perToken(), 10, 4, -5, -0.3, 12, 0);
      metric(out, "clip_ratio", 2.0 / 3, 0); // |12|, |-15| > 10; |10| is not clipped
      metric(
          out,
          "advantages/mean",
          -1.0 / 3,
          4.5); // unclipped inputs: (12 + 2 - 15) / 3, (-1 + 10) / 2
    }
  }

  @Test
  void reinforceKlTermUsesTheReference() {
    try (NDManager m = LossFixtures.manager()) {
      Reinforce r = new Reinforce(null, null, null, 0.1, null); // k2, the paper's code
      assertTrue(r.needsReference());
      Batch b = Batch.of(m, 0);
      // k2 = (logp - ref)^2 / 2 = (0.125, 0.5, 0), (0, 0); loss = -A logp + 0.1 k2
      TokenLossOutput out = r.compute(b.onPolicy(b.ref()));
      close(out.perToken(), 2.0125, 4.05, 1, -0.3, -1.2, 0);
      metric(out, "kl", 0.625 / 3, 0);
      metric(out, "policy_loss", 7.0 / 3, -0.75); // without the KL term
      // d/d logp: -A + 0.1 (logp - ref) = -2 + (0.05, -0.1, 0)
      closeArray(logpGradient(m, x -> r.compute(x.onPolicy(x.ref()))), -1.95, -2.1, -2, 1, 1, 0);
      fails(() -> r.compute(b.onPolicy(null)), "reinforce: needs reference log-probs");
    }
  }

  @Test
  void rlooClipsTheSequenceRatioLikeTrl() {
    try (NDManager m = LossFixtures.manager()) {
      Rloo rloo = new Rloo(null, null, null); // epsilon 0.2
      assertFalse(rloo.needsReference());
      Batch b = Batch.of(m, 0);
      // on-policy it is REINFORCE: -A logp
      close(rloo.compute(b.onPolicy(null)).perToken(), 2, 4, 1, -0.3, -1.2, 0);
      closeArray(logpGradient(m, x -> rloo.compute(x.onPolicy(null))), -2, -2, -2, 1, 1, 0);
      // oldLogps equal to logps: rho = 1, the same
      NDArray same = arr(m, 2, 3, -1, -2, -0.5, -0.3, -1.2, 0);
      close(
          rloo.compute(PolicyInputs.of(b.logp(), same, null, b.mask(), b.adv())).perToken(),
          2,
          4,
          1,
          -0.3,
          -1.2,
          0);
      // old (-1.1, -2.1, -0.6), (-0.35, -1.2): sequence log-ratios 0.3 and 0.05
      // row 0: rho = exp(0.3) = 1.349859 > 1.2 with A = 2 > 0: clipped, no loss, no gradient
      // row 1: rho = exp(0.05) = 1.051271, A = -1: kept, -A rho logp = 1.051271 (-0.3, -1.2)
      NDArray old = arr(m, 2, 3, -1.1, -2.1, -0.6, -0.35, -1.2, 0);
      TokenLossOutput out = rloo.compute(PolicyInputs.of(b.logp(), old, null, b.mask(), b.adv()));
      close(out.perToken(), 0, 0, 0, -0.315381, -1.261525, 0);
      metric(out, "clip_ratio", 1, 0);
      metric(out, "policy_loss", 0, -0.788453);
      metric(out, "approx_kl", 0.005, 0.000625); // 0.5 * 0.1^2; 0.5 (0.05^2 + 0) / 2
      Batch g = Batch.of(m, 0);
      float[] grad =
          gradients(
              x -> rloo.compute(PolicyInputs.of(x.logp(), old, null, x.mask(), x.adv())),
              g,
              g.logp())[0];
      closeArray(grad, 0, 0, 0, 1.051271, 1.051271, 0); // -A rho
      // rho above 1 + eps with A < 0 is not clipped (min picks rho A): -(-2) 1.349859 logp
      NDArray negative = arr(m, 2, 3, -2, -2, -2, -1, -1, 0);
      close(
          rloo.compute(PolicyInputs.of(b.logp(), old, null, b.mask(), negative)).perToken(),
          -2.699718,
          -5.399435,
          -1.349859,
          -0.315381,
          -1.261525,
          0);
      // KL in the loss, k3, beta 0.05: + 0.05 (0.106531, 0.718282, 0)
      Rloo kl = new Rloo(0.2, 0.05, null);
      assertTrue(kl.needsReference());
      TokenLossOutput withKl = kl.compute(b.onPolicy(b.ref()));
      close(withKl.perToken(), 2.005327, 4.035914, 1, -0.3, -1.2, 0);
      metric(withKl, "kl", 0.274937, 0); // (0.106531 + 0.718282) / 3
    }
  }

  @Test
  void grpoSurrogateAndKlByHand() {
    try (NDManager m = LossFixtures.manager()) {
      Grpo noKl = new Grpo(null, null, 0.0, null, null, null);
      assertFalse(noKl.needsReference());
      Batch b = Batch.of(m, 0);
      // on-policy r = 1: -(r A) = -A; d/d logp = -r A = -A
      TokenLossOutput on = noKl.compute(b.onPolicy(null));
      close(on.perToken(), -2, -2, -2, 1, 1, 0);
      closeArray(logpGradient(m, x -> noKl.compute(x.onPolicy(null))), -2, -2, -2, 1, 1, 0);
      // beta 0.04 (the default): + 0.04 k3 = (0.004261, 0.028731, 0); gradient -A + 0.04 (1 -
      // exp(ref - logp))
      Grpo grpo = new Grpo(null, null, null, null, null, null);
      assertTrue(grpo.needsReference());
      TokenLossOutput kl = grpo.compute(b.onPolicy(b.ref()));
      close(kl.perToken(), -1.995739, -1.971269, -2, 1, 1, 0);
      closeArray(
          logpGradient(m, x -> grpo.compute(x.onPolicy(x.ref()))),
          -1.984261,
          -2.068731,
          -2,
          1,
          1,
          0);
      metric(kl, "kl", 0.274937, 0);
      metric(kl, "policy_loss", -2, 1);
      fails(() -> grpo.compute(b.onPolicy(null)), "grpo: needs reference log-probs");
    }
  }

  @Test
  void grpoClipActiveAndInactive() {
    try (NDManager m = LossFixtures.manager()) {
      Grpo grpo = new Grpo(0.2, null, 0.0, null, null, null);
      Function<Batch, TokenLossOutput> f =
          x -> grpo.compute(PolicyInputs.of(x.logp(), x.old(), null, x.mask(), x.adv()));
      // row 0, A = 2: r = 1.349859 > 1.2: clipped, -(1.2 * 2) = -2.4, no gradient;
      //   r = 0.904837: -(0.904837 * 2) = -1.809675, gradient -r A; r = 1: -2, gradient -2
      // row 1, A = -1: r = 0.778801 < 0.8: clipped, -(0.8 * -1) = 0.8, no gradient; r = 1: 1,
      // gradient 1
      TokenLossOutput out = f.apply(Batch.of(m, 0));
      close(out.perToken(), -2.4, -1.809675, -2, 0.8, 1, 0);
      closeArray(logpGradient(m, f), 0, -1.809675, -2, 0, 1, 0);
      metric(out, "clip_ratio", 1.0 / 3, 0.5);
      metric(out, "policy_loss", -2.069892, 0.9); // (-2.4 - 1.809675 - 2) / 3, (0.8 + 1) / 2
      metric(out, "approx_kl", 0.016667, 0.015625); // 0.5 (0.09 + 0.01 + 0) / 3, 0.5 * 0.0625 / 2
      // epsilon_high 0.4: 1.349859 < 1.4 is no longer clipped: -2.699718 with gradient -r A
      Grpo high = new Grpo(0.2, 0.4, 0.0, null, null, null);
      Function<Batch, TokenLossOutput> h =
          x -> high.compute(PolicyInputs.of(x.logp(), x.old(), null, x.mask(), x.adv()));
      TokenLossOutput wide = h.apply(Batch.of(m, 0));
      close(wide.perToken(), -2.699718, -1.809675, -2, 0.8, 1, 0);
      closeArray(logpGradient(m, h), -2.699718, -1.809675, -2, 0, 1, 0);
      metric(wide, "clip_ratio", 0, 0.5);
    }
  }

  @Test
  void ppoPolicyAndValueLossByHand() {
    try (NDManager m = LossFixtures.manager()) {
      Ppo ppo = new Ppo(null, null, null, null, null, null, null); // 0.2, 0.2, vf 0.1
      assertTrue(ppo.needsValues());
      assertFalse(ppo.needsReference());
      // policy part as GRPO with epsilon 0.2: (-2.4, -1.809675, -2), (0.8, 1)
      // value loss 0.5 max((v - R)^2, (clip(v, v_old +- 0.2) - R)^2):
      //   v 0.5, old 0.4, R 1: clip inactive, 0.5 * 0.25 = 0.125, d/dv = v - R = -0.5
      //   v 1.0, old 0.5, R 0.6: clipped v 0.7, max(0.16, 0.01) = 0.16 unclipped: 0.08, d/dv = 0.4
      //   v 0.9, old 0.2, R 1.0: clipped v 0.4, max(0.01, 0.36) = 0.36 clipped: 0.18, d/dv = 0
      //   v 0.2, old 0.2, R 0: 0.02, d/dv = 0.2;   v -0.1, old 0, R 0.1: 0.02, d/dv = -0.2
      // loss = pg + 0.1 vl: (-2.4 + 0.0125, -1.809675 + 0.008, -2 + 0.018), (0.8 + 0.002, 1 +
      // 0.002)
      TokenLossOutput out = ppo.compute(Batch.of(m, 0).all());
      close(out.perToken(), -2.3875, -1.801675, -1.982, 0.802, 1.002, 0);
      metric(out, "value_loss", 0.385 / 3, 0.02);
      metric(out, "value_clip_ratio", 1.0 / 3, 0);
      metric(out, "clip_ratio", 1.0 / 3, 0.5);
      metric(out, "policy_loss", -2.069892, 0.9);
      metric(out, "kl", -1.0 / 6, 0); // reference given: k1 = (0.5, -1, 0), (0, 0)
      Batch b = Batch.of(m, 0);
      float[][] g = gradients(x -> ppo.compute(x.all()), b, b.logp(), b.values());
      closeArray(g[0], 0, -1.809675, -2, 0, 1, 0);
      closeArray(g[1], -0.05, 0.04, 0, 0.02, -0.02, 0); // 0.1 d vl / dv
      fails(() -> ppo.compute(b.onPolicy(null)), "ppo: needs values, oldValues and returns");
      assertFalse(
          ppo.compute(
                  new PolicyInputs(
                      b.logp(),
                      b.old(),
                      null,
                      b.mask(),
                      b.adv(),
                      b.values(),
                      b.oldValues(),
                      b.returns()))
              .metrics()
              .containsKey("kl"));
    }
  }

  /** Every loss, fed every input (so each masks all of them). */
  static List<Function<Batch, TokenLossOutput>> all() {
    Reinforce reinforce = new Reinforce(null, null, 1.5, 0.1, Kl.Estimator.K3);
    Rloo rloo = new Rloo(null, 0.05, Kl.Estimator.K2);
    Grpo grpo = new Grpo(0.2, 0.28, 0.04, null, null, null);
    Ppo ppo = new Ppo(null, null, null, null, null, null, null);
    return List.of(
        b -> reinforce.compute(b.all()),
        b -> rloo.compute(b.all()),
        b -> grpo.compute(b.all()),
        b -> ppo.compute(b.all()));
  }

  @Test
  void paddingChangesNothing() {
    try (NDManager m = LossFixtures.manager()) {
      for (Function<Batch, TokenLossOutput> f : all()) {
        TokenLossOutput clean = f.apply(Batch.of(m, 0));
        Batch cb = Batch.of(m, 0);
        float[][] cleanGrad = gradients(f, cb, cb.logp(), cb.values());
        assertEquals(0f, cleanGrad[0][5], 0f, "no gradient on padding");
        assertEquals(0f, cleanGrad[1][5], 0f, "no value gradient on padding");
        for (double pad : new double[] {Double.NaN, 1e4, -1e4, Double.POSITIVE_INFINITY}) {
          TokenLossOutput dirty = f.apply(Batch.of(m, pad));
          float[] expected = clean.perToken().toFloatArray();
          closeArray(dirty.perToken().toFloatArray(), toDoubles(expected));
          assertEquals(0f, dirty.perToken().toFloatArray()[5], 0f, "padding loss is exactly 0");
          assertEquals(clean.metrics().keySet(), dirty.metrics().keySet());
          for (String k : clean.metrics().keySet()) {
            closeArray(
                dirty.metrics().get(k).toFloatArray(),
                toDoubles(clean.metrics().get(k).toFloatArray()));
          }
          Batch db = Batch.of(m, pad);
          float[][] dirtyGrad = gradients(f, db, db.logp(), db.values());
          closeArray(dirtyGrad[0], toDoubles(cleanGrad[0]));
          closeArray(dirtyGrad[1], toDoubles(cleanGrad[1]));
        }
      }
    }
  }

  static double[] toDoubles(float[] f) {
    double[] d = new double[f.length];
    for (int i = 0; i < f.length; i++) {
      d[i] = f[i];
    }
    return d;
  }

  @Test
  void emptySequencesAndBadShapes() {
    try (NDManager m = LossFixtures.manager()) {
      Batch b = Batch.of(m, 0);
      Grpo grpo = new Grpo(null, null, 0.0, null, null, null);
      // a row without completion tokens: loss 0, metrics 0 (no division by zero)
      NDArray mask = arr(m, 2, 3, 1, 1, 1, 0, 0, 0);
      TokenLossOutput out = grpo.compute(PolicyInputs.of(b.logp(), null, null, mask, b.adv()));
      close(out.perToken(), -2, -2, -2, 0, 0, 0);
      metric(out, "policy_loss", -2, 0);
      metric(out, "entropy_proxy", 3.5 / 3, 0);
      fails(
          () ->
              grpo.compute(
                  PolicyInputs.of(b.logp(), null, null, arr(m, 2, 2, 1, 1, 1, 1), b.adv())),
          "grpo: mask must be (B, T) = (2, 3)");
      fails(
          () ->
              grpo.compute(
                  PolicyInputs.of(b.logp(), arr(m, 1, 3, 0, 0, 0), null, b.mask(), b.adv())),
          "grpo: oldLogps must be (B, T)");
      fails(
          () -> grpo.compute(PolicyInputs.of(b.logp().reshape(6), null, null, b.mask(), b.adv())),
          "grpo: logps must be (B, T)");
      fails(
          () -> grpo.compute(PolicyInputs.of(b.logp(), null, null, b.mask(), null)),
          "grpo: advantages are missing");
      Ppo ppo = new Ppo(null, null, null, null, null, null, null);
      fails(
          () ->
              ppo.compute(
                  new PolicyInputs(
                      b.logp(),
                      null,
                      null,
                      b.mask(),
                      b.adv(),
                      b.values(),
                      b.oldValues(),
                      arr(m, 2, 2, 0, 0, 0, 0))),
          "ppo: returns must be (B, T)");
    }
  }
}
