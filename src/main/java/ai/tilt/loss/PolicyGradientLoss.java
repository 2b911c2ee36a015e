package ai.tilt.loss;

/**
 * A loss over sampled completions weighted by advantages, token by token: the on-policy family of
 * Tajwar et al., 2024 (arXiv:2404.14367, section 3: REINFORCE, PPO) and the critic-free variants
 * the anchors default to (RLOO, GRPO). Every member is two pure functions: {@link #advantages}, its
 * own estimator (a baseline, leave-one-out, group normalisation or GAE, on the rewards with {@code
 * online.kl_coef}'s KL penalty folded in), run once per collected batch with {@link Advantages} and
 * {@link Kl}; and {@link #compute}, the per-token loss of log-probs and those advantages. The
 * trainer only samples, scores, pads and carries the baseline state between iterations.
 *
 * <p>Per-token loss conventions: positive advantage lowers the loss by raising logp (d loss / d
 * logp = -A on-policy); padding cells (mask 0) are exactly 0 and carry no gradient; nothing is
 * normalised (see {@link TokenLossOutput}).
 *
 * <p>Metrics (per sequence, TRL's names where TRL has them): {@code policy_loss} (mean of the
 * policy-gradient part of the per-token loss), {@code clip_ratio} (fraction of tokens where the
 * clip is active), {@code approx_kl} (mean 0.5 (logp - old)^2, TRL's approxkl; 0 without oldLogps),
 * {@code entropy_proxy} (-mean logp, the sampled-token entropy estimate), {@code advantages/mean},
 * {@code kl} (mean KL estimate against the reference, when one is given), and for PPO {@code
 * value_loss} and {@code value_clip_ratio}.
 */
public sealed interface PolicyGradientLoss extends Loss
    permits Reinforce, Rloo, Grpo, Ppo, ReinforcePlusPlus {
  /**
   * The per-token loss and metrics of a micro-batch.
   *
   * @throws IllegalArgumentException when the inputs do not fit (shapes differ, a needed reference
   *     or value array is missing)
   */
  TokenLossOutput compute(PolicyInputs in);

  /** Whether {@link #compute} reads {@link PolicyInputs#refLogps()} (a KL term in the loss). */
  boolean needsReference();

  /** Whether {@link #compute} reads values, oldValues and returns (a value head): PPO only. */
  @Override
  boolean needsValues();

  @Override
  default boolean learnsFromRollouts() {
    return true;
  }

  @Override
  default boolean weighsTokens() {
    return true;
  }

  /**
   * The per-token advantages of a collected batch (each loss's own estimator: a baseline, leave one
   * out, group normalisation or GAE), computed once per batch before its updates.
   */
  AdvantageOutput advantages(AdvantageInputs in);

  @Override
  default <R> R match(Cases<R> cases) {
    return cases.policyGradient(this);
  }
}
