package ai.tilt.loss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.runtime.Torch;
import ai.tilt.train.Recipe;
import ai.tilt.train.RecipeHelp;
import ai.tilt.train.RecipeLoader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Recipe YAML to the policy-gradient loss records: defaults, overrides, unknown keys and range
 * checks.
 */
class PolicyBindingTest {
  static final YAMLMapper YAML = new YAMLMapper();

  @BeforeAll
  static void init() {
    Torch.init();
  }

  static Loss loss(String yaml, String... overrides) {
    try {
      Recipe r = RecipeLoader.bind((ObjectNode) YAML.readTree(yaml), List.of(overrides), "test");
      return r.loss();
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static String error(String yaml, String... overrides) {
    return assertThrows(IllegalArgumentException.class, () -> loss(yaml, overrides)).getMessage();
  }

  @Test
  void defaultsAndOverrides() {
    assertEquals(
        new Grpo(0.2, 0.2, 0.04, Advantages.Scale.GROUP, null, null),
        loss("loss: {type: grpo, beta: 0.04}\n"));
    assertEquals(
        new Grpo(0.2, 0.28, 0.0, Advantages.Scale.BATCH, null, null),
        loss("loss: {type: grpo, epsilon_high: 0.28, beta: 0, scale_rewards: batch}\n"));
    assertEquals(
        new Grpo(0.3, 0.3, 0.04, Advantages.Scale.GROUP, null, null),
        loss("loss: grpo\n", "loss.epsilon=0.3"));
    assertEquals(
        new Reinforce(Reinforce.BaselineType.MOVING_AVERAGE, 0.9, 10.0, 0.0, Kl.Estimator.K2),
        loss("loss: reinforce\n"));
    assertEquals(
        new Reinforce(Reinforce.BaselineType.EMA, 0.8, 5.0, 0.1, Kl.Estimator.K3),
        loss(
            "loss: {type: reinforce, baseline: ema,"
                + " baseline_decay: 0.8, clip_advantage: 5, kl_beta: 0.1, kl_estimator: k3}\n"));
    assertEquals(new Rloo(0.2, 0.0, Kl.Estimator.K3), loss("loss: rloo\n"));
    assertEquals(
        new Rloo(0.1, 0.05, Kl.Estimator.K3),
        loss("loss: {type: rloo, epsilon: 0.1, kl_beta: 0.05}\n"));
    assertEquals(new Ppo(0.2, 0.2, 0.1, 1.0, 0.95, true, null), loss("loss: ppo\n"));
    assertEquals(
        new Ppo(0.2, 0.5, 0.2, 1.0, 1.0, false, null),
        loss(
            "loss: {type: ppo, cliprange_value: 0.5, vf_coef: 0.2, lam: 1, whiten_advantages: false}\n"));
    assertTrue(loss("loss: grpo\n") instanceof PolicyGradientLoss);
  }

  @Test
  void resolvedRecipesRoundTripAndExplain() {
    for (String name : List.of("reinforce", "rloo", "grpo", "ppo")) {
      Recipe r = RecipeLoader.bind(obj("loss: " + name + "\n"), List.of(), "test");
      assertEquals(name, r.loss().type());
      String yaml = RecipeLoader.toYaml(r);
      assertEquals(r.loss(), RecipeLoader.bind(obj(yaml), List.of(), "round trip").loss(), yaml);
    }
    String explained =
        RecipeHelp.explain(RecipeLoader.bind(obj("loss: grpo\n"), List.of(), "test"));
    assertTrue(
        explained.contains("loss.epsilon_high:") && explained.contains("loss.scale_rewards:"),
        explained);
    assertTrue(explained.contains("reinforce, rloo, grpo, ppo"), explained);
  }

  static ObjectNode obj(String yaml) {
    try {
      return (ObjectNode) YAML.readTree(yaml);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void unknownKeysAndBadValuesAreNamed() {
    String msg = error("loss: {type: grpo, epsilon_hi: 0.3}\n");
    assertTrue(
        msg.contains("'loss.epsilon_hi'")
            && msg.contains("epsilon_high")
            && msg.contains("scale_rewards"),
        msg);
    msg = error("loss: {type: ppo, clip_range: 0.3}\n");
    assertTrue(msg.contains("'loss.clip_range'") && msg.contains("cliprange_value"), msg);
    assertTrue(error("loss: {type: grpo, beta: -1}\n").contains("loss.beta must be >= 0"));
    assertTrue(
        error("loss: {type: grpo, scale_rewards: global}\n")
            .contains(
                "key 'loss.scale_rewards': cannot read global as one of [group, batch, none]"));
    assertTrue(
        error("loss: {type: grpo, epsilon: 1.5}\n").contains("loss.epsilon must be in (0, 1)"));
    assertTrue(
        error("loss: {type: reinforce, baseline: running}\n")
            .contains(
                "key 'loss.baseline': cannot read running as one of [moving_average, ema,"
                    + " batch_mean, none]"));
    assertTrue(
        error("loss: {type: reinforce, baseline_decay: 1}\n")
            .contains("loss.baseline_decay must be in [0, 1)"));
    assertTrue(
        error("loss: {type: reinforce, clip_advantage: 0}\n")
            .contains("loss.clip_advantage must be > 0"));
    assertTrue(
        error("loss: {type: rloo, kl_estimator: k5}\n")
            .contains("key 'loss.kl_estimator': cannot read k5 as one of [k1, k2, k3]"));
    assertTrue(error("loss: {type: ppo, lam: 2}\n").contains("loss.lam must be in [0, 1]"));
    assertTrue(error("loss: {type: ppo, vf_coef: -0.1}\n").contains("loss.vf_coef must be >= 0"));
    assertTrue(error("loss: {type: ppo, gamma: fast}\n").contains("'loss.gamma'"));
    msg = error("loss: grpoo\n");
    assertTrue(msg.contains("'grpoo'") && msg.contains("reinforce") && msg.contains("ppo"), msg);
  }
}
