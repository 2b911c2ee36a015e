package ai.tilt.loss;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.ArrayList;
import java.util.List;

/**
 * A training objective, chosen in a recipe as {@code loss: sft} or {@code loss: {type: dpo, beta:
 * 0.1}} and bound to one of these records once, when the recipe is read. Each record holds its
 * hyperparameters and computes its loss as a pure function of log-probs (no model, optimizer or
 * I/O); the trainer branches on the kind through {@link #match}, never on the type: {@link Sft}, a
 * {@link GroupLoss} (every preference loss), the {@link RewardModelLoss} or a {@link
 * PolicyGradientLoss} (on-policy REINFORCE, RLOO, GRPO, PPO, REINFORCE++). Omitted keys take the
 * record's defaults; out-of-range values fail naming the key ({@code loss.beta must be > 0}).
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "type")
@JsonSubTypes({
  @JsonSubTypes.Type(value = Sft.class, name = "sft"),
  @JsonSubTypes.Type(value = Dpo.class, name = "dpo"),
  @JsonSubTypes.Type(value = Ipo.class, name = "ipo"),
  @JsonSubTypes.Type(value = Hinge.class, name = "hinge"),
  @JsonSubTypes.Type(value = Simpo.class, name = "simpo"),
  @JsonSubTypes.Type(value = Orpo.class, name = "orpo"),
  @JsonSubTypes.Type(value = Kto.class, name = "kto"),
  @JsonSubTypes.Type(value = PrefFt.class, name = "pref_ft"),
  @JsonSubTypes.Type(value = Rwr.class, name = "rwr"),
  @JsonSubTypes.Type(value = BestOfN.class, name = "best_of_n"),
  @JsonSubTypes.Type(value = BestOfNNeg.class, name = "best_of_n_neg"),
  @JsonSubTypes.Type(value = RewardModelLoss.class, name = "reward_model"),
  @JsonSubTypes.Type(value = Reinforce.class, name = "reinforce"),
  @JsonSubTypes.Type(value = Rloo.class, name = "rloo"),
  @JsonSubTypes.Type(value = Grpo.class, name = "grpo"),
  @JsonSubTypes.Type(value = Ppo.class, name = "ppo"),
  @JsonSubTypes.Type(value = ReinforcePlusPlus.class, name = "reinforce_plus_plus")
})
public sealed interface Loss permits Sft, GroupLoss, RewardModelLoss, PolicyGradientLoss {
  /** The name used in recipes. */
  String type();

  /** Whether the loss compares the policy with a frozen reference (DPO's pi_ref, a KL term). */
  boolean needsReference();

  /** Whether the loss reads a value head trained with the policy (PPO). */
  default boolean needsValues() {
    return false;
  }

  /** Whether the loss can learn from rollouts: the preference and policy-gradient losses. */
  default boolean learnsFromRollouts() {
    return false;
  }

  /**
   * Whether the loss weighs sampled tokens by advantages (the policy-gradient losses), so that
   * token-level knobs apply to it: masking truncated completions, seq_mean_token_sum_norm.
   */
  default boolean weighsTokens() {
    return false;
  }

  /** Whether the loss trains on groups of scored responses (the preference losses). */
  default boolean scoresGroups() {
    return false;
  }

  /**
   * Whether {@link Responses#klPolicy()} and {@link Responses#klReference()} must be given: the
   * log-probs of each prompt followed by another prompt's response (KTO's reference point).
   */
  default boolean needsKlBatch() {
    return false;
  }

  /** Whether the model trained is a reward model (a score head instead of the LM head). */
  default boolean trainsRewardModel() {
    return false;
  }

  /**
   * The four kinds of loss, one method each: the trainer builds its data and objective by kind
   * through this, so a new kind fails to compile until every place that builds one handles it.
   */
  interface Cases<R> {
    R sft(Sft loss);

    R groups(GroupLoss loss);

    R rewardModel(RewardModelLoss loss);

    R policyGradient(PolicyGradientLoss loss);
  }

  /** Calls the method of {@code cases} for this loss's kind. */
  <R> R match(Cases<R> cases);

  /** Every recipe name, in declaration order (for error messages and help). */
  static List<String> names() {
    List<String> out = new ArrayList<>();
    for (JsonSubTypes.Type t : Loss.class.getAnnotation(JsonSubTypes.class).value()) {
      out.add(t.name());
    }
    return out;
  }

  /** The record bound to a recipe name, or null when there is none. */
  static Class<? extends Loss> classOf(String name) {
    for (JsonSubTypes.Type t : Loss.class.getAnnotation(JsonSubTypes.class).value()) {
      if (t.name().equals(name)) {
        return t.value().asSubclass(Loss.class);
      }
    }
    return null;
  }
}
