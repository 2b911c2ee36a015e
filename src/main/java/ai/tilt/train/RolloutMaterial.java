package ai.tilt.train;

import ai.tilt.loss.AdvantageInputs;
import ai.tilt.loss.AdvantageOutput;
import ai.tilt.loss.Advantages;
import ai.tilt.loss.GroupLoss;
import ai.tilt.loss.Loss;
import ai.tilt.loss.PolicyGradientLoss;
import ai.tilt.loss.RewardModelLoss;
import ai.tilt.loss.Sft;

/**
 * What a scored rollout becomes for the recipe's loss (Tajwar et al., 2024, Algorithm 1, the step
 * between labelling and the T passes): pairs, labelled responses or scored lists for a preference
 * loss ({@link PairBuilder}); per-token advantages from the loss's own estimator for a
 * policy-gradient loss (with PPO's values at collection time), scaled by truncated importance
 * weights when the samples came from a server; and the reward baseline left for the next iteration.
 */
final class RolloutMaterial {
  private final Recipe recipe;
  private final Policy policy;
  private final Collector collector;
  private final long padId;
  private final Streams streams;
  private final double importanceSamplingCap; // 0: no importance weights
  private final boolean ratioIsOne; // the batch trains one step on the policy that sampled it

  /**
   * @param importanceSamplingCap the cap of truncated importance sampling of server samples, or 0
   *     when the run samples in process (or under temperature, top-k or top-p)
   * @param ratioIsOne the policy that sampled is the one that trains, for one step: the losses take
   *     their importance ratio as exactly 1 (no old log-probs)
   */
  RolloutMaterial(
      Recipe recipe,
      Policy policy,
      Collector collector,
      long padId,
      Streams streams,
      double importanceSamplingCap,
      boolean ratioIsOne) {
    this.recipe = recipe;
    this.policy = policy;
    this.collector = collector;
    this.padId = padId;
    this.streams = streams;
    this.importanceSamplingCap = importanceSamplingCap;
    this.ratioIsOne = ratioIsOne;
  }

  /**
   * What a rollout becomes for the recipe's loss, the reward baseline it leaves behind, and the
   * truncated IS weights applied to its advantages (server samples only, else null).
   */
  record Material(
      Objective objective, Advantages.Baseline baseline, TruncatedIs.Weights isWeights) {}

  /** The material of one rollout, given the method state before it. */
  Material of(Rollout rollout, OnlineState state) {
    return recipe
        .loss()
        .match(
            new Loss.Cases<Material>() {
              @Override
              public Material groups(GroupLoss loss) {
                PairBuilder.Built built =
                    PairBuilder.build(rollout, loss, recipe.online(), streams);
                PreferenceObjective inner =
                    PreferenceObjective.onRollout(
                        policy.model(), loss, padId, built.groups(), built.referenceSums());
                return new Material(
                    new IterationObjective(inner, built.groupsOfPrompt()), state.baseline(), null);
              }

              @Override
              public Material policyGradient(PolicyGradientLoss loss) {
                float[][] oldValues =
                    loss.needsValues()
                        ? collector.tokenValues(
                            policy,
                            rollout.prompts(),
                            rollout.samplesPerPrompt(),
                            rollout.completions())
                        : null;
                AdvantageOutput adv =
                    loss.advantages(
                        new AdvantageInputs(
                            rollout.rewards(),
                            rollout.samplesPerPrompt(),
                            rollout.oldLogps(),
                            rollout.refLogps(),
                            state.klCoef(),
                            state.baseline(),
                            oldValues));
                TruncatedIs.Weights isWeights = null;
                if (importanceSamplingCap > 0) {
                  isWeights =
                      TruncatedIs.of(
                          rollout.oldLogps(), rollout.samplingLogps(), importanceSamplingCap);
                  adv =
                      new AdvantageOutput(
                          TruncatedIs.scale(adv.advantages(), isWeights.weights()),
                          adv.returns(),
                          adv.baseline());
                }
                Objective objective =
                    new PolicyObjective(
                        policy,
                        loss,
                        padId,
                        rollout,
                        adv,
                        oldValues,
                        recipe.train().lossNormalization(),
                        recipe.online().maxNewTokens(),
                        recipe.online().maskTruncatedCompletions(),
                        ratioIsOne);
                return new Material(objective, adv.baseline(), isWeights);
              }

              @Override
              public Material sft(Sft loss) {
                throw notOnPolicy(loss);
              }

              @Override
              public Material rewardModel(RewardModelLoss loss) {
                throw notOnPolicy(loss);
              }

              private IllegalStateException notOnPolicy(Loss loss) {
                return new IllegalStateException(
                    loss.type() + " on-policy: Recipe.validate refuses this");
              }
            });
  }
}
