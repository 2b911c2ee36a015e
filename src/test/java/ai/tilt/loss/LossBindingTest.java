package ai.tilt.loss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.train.Recipe;
import ai.tilt.train.RecipeHelp;
import ai.tilt.train.RecipeLoader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Recipe YAML to loss records: names, defaults, overrides, unknown keys and range checks. */
class LossBindingTest {
  static final YAMLMapper YAML = new YAMLMapper();

  static Recipe bind(String yaml, String... overrides) {
    try {
      return RecipeLoader.bind((ObjectNode) YAML.readTree(yaml), List.of(overrides), "test");
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static String error(String yaml, String... overrides) {
    return assertThrows(IllegalArgumentException.class, () -> bind(yaml, overrides)).getMessage();
  }

  @Test
  void keysBindToRecordComponents() {
    assertEquals(new Dpo(0.2, 0.0), bind("loss: {type: dpo, beta: 0.2}\n").loss());
    assertEquals(new Dpo(0.1, 0.1), bind("loss: {type: dpo, label_smoothing: 0.1}\n").loss());
    assertEquals(new Ipo(0.1, false), bind("loss: ipo\n").loss());
    assertEquals(
        new Ipo(0.5, true), bind("loss: {type: ipo, beta: 0.5, length_normalize: true}\n").loss());
    assertEquals(
        new Simpo(2.5, 1.0, 0.0), bind("loss: {type: simpo, beta: 2.5, gamma: 1.0}\n").loss());
    assertEquals(
        new Kto(0.1, 1.0, 1.33), bind("loss: {type: kto, undesirable_weight: 1.33}\n").loss());
    assertEquals(new Rwr(0.5, 20.0, false), bind("loss: {type: rwr, tau: 0.5}\n").loss());
    assertEquals(
        new BestOfNNeg(2, 0.1, true),
        bind("loss: {type: best_of_n_neg, k: 2, reference_constrained: true}\n").loss());
    assertEquals(
        new RewardModelLoss(true, 0.01),
        bind("loss: {type: reward_model, margin: true, center_rewards_coefficient: 0.01}\n")
            .loss());
    assertEquals(new Dpo(0.3, 0.0), bind("loss: dpo\n", "loss.beta=0.3").loss());
  }

  @Test
  void everyNameBindsWithDefaultsAndRoundTrips() {
    for (String name : Loss.names()) {
      Recipe r = bind("loss: " + name + "\n");
      assertEquals(name, r.loss().type(), "type() of " + name);
      assertEquals(Loss.classOf(name), r.loss().getClass());
      String yaml = RecipeLoader.toYaml(r);
      Recipe again = RecipeLoader.bind((ObjectNode) readTree(yaml), List.of(), "round trip");
      assertEquals(r.loss(), again.loss(), yaml);
      assertTrue(RecipeHelp.explain(r).contains("loss.type:"), name);
    }
    String explained = RecipeHelp.explain(bind("loss: {type: kto, beta: 0.2}\n"));
    assertTrue(
        explained.contains("loss.desirable_weight:") && explained.contains("w_D"), explained);
  }

  static com.fasterxml.jackson.databind.JsonNode readTree(String yaml) {
    try {
      return YAML.readTree(yaml);
    } catch (java.io.IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void badKeysTypesAndValuesAreNamed() {
    String msg = error("loss: {type: dpo, betta: 0.2}\n");
    assertTrue(
        msg.contains("'loss.betta'") && msg.contains("beta") && msg.contains("label_smoothing"),
        msg);
    assertTrue(error("loss: {type: ipo, gamma: 1}\n").contains("'loss.gamma'"));
    msg = error("loss: {type: dpo, beta: -1}\n");
    assertTrue(msg.contains("loss.beta must be > 0"), msg);
    msg = error("loss: dpo\n", "loss.label_smoothing=0.9");
    assertTrue(msg.contains("loss.label_smoothing"), msg);
    msg = error("loss: {type: rwr, tau: hot}\n");
    assertTrue(msg.contains("'loss.tau'"), msg);
    msg = error("loss: dpoo\n");
    assertTrue(
        msg.contains("'dpoo'") && msg.contains("best_of_n_neg") && msg.contains("reward_model"),
        msg);
  }
}
