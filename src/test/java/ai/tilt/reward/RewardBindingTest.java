package ai.tilt.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.train.RecipeHelp;
import ai.tilt.train.RecipeLoader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Recipe YAML to reward specs through {@link RecipeLoader}'s binding (shorthands, overrides, strict
 * keys, key-naming errors), using a stand-in recipe with the keys where rewards live.
 */
class RewardBindingTest {
  static final YAMLMapper YAML = new YAMLMapper();

  /** The reward keys of a recipe. */
  record Holder(RewardSpec reward, Section online, Section eval) {}

  record Section(RewardSpec reward, RewardSpec goldReward) {}

  static Holder bind(String yaml, String... overrides) {
    try {
      return RecipeLoader.bind(
          (ObjectNode) YAML.readTree(yaml), List.of(overrides), "test", Holder.class);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  static String error(String yaml, String... overrides) {
    return assertThrows(IllegalArgumentException.class, () -> bind(yaml, overrides)).getMessage();
  }

  @Test
  void objectsAndShorthandsBindWithDefaults() {
    assertEquals(new MinLength(LengthUnit.TOKENS), bind("reward: min_length\n").reward());
    assertEquals(new Bump(70.0, 10.0, false), bind("reward: {type: bump}\n").reward());
    assertEquals(
        new Bump(20.0, 5.0, true),
        bind("reward: {type: bump, center: 20, width: 5, include_prompt: true}\n").reward());
    assertEquals(
        new ModeLength(97.0, LengthUnit.WORDS),
        bind("reward: {type: mode_length, target: 97, unit: words}\n").reward());
    assertEquals(
        new SkewLength(50.0, 1.0, 4.0, LengthUnit.CHARS),
        bind("reward: {type: skew_length, target: 50, unit: chars}\n").reward());
    assertEquals(
        new ExactMatch("answer", 1.0, 0.0, true),
        bind("online: {gold_reward: exact_match}\n").online().goldReward());
    assertEquals(new MinLength(null), bind("online: {reward: min_length}\n").online().reward());
    assertEquals(
        new Bump(null, null, null), bind("eval: {gold_reward: bump}\n").eval().goldReward());
    assertEquals(new ModelReward("rm", 16), bind("reward: {type: model, path: rm}\n").reward());
    Holder h =
        bind(
            "reward: {type: http, url: 'http://localhost:8000/score', headers: {Authorization: 'Bearer ${T}'}}\n");
    assertEquals(
        new HttpReward(
            "http://localhost:8000/score", 30.0, 3, 64, Map.of("Authorization", "Bearer ${T}")),
        h.reward());
    assertNull(bind("reward: bump\n").online());
  }

  @Test
  void overridesApplyToRewardKeys() {
    assertEquals(new Bump(20.0, 10.0, false), bind("reward: bump\n", "reward.center=20").reward());
    assertEquals(
        new MinLength(LengthUnit.CHARS),
        bind("reward: bump\n", "reward=min_length", "reward.unit=chars").reward());
    assertEquals(
        new Contains("42", 1.0, 0.0, false),
        bind("{}\n", "online.gold_reward.type=contains", "online.gold_reward.text='42'")
            .online()
            .goldReward());
  }

  @Test
  void everyNameBindsAndRoundTripsThroughResolvedYaml() {
    Map<String, String> minimal = new LinkedHashMap<>();
    minimal.put("mode_length", ", target: 10");
    minimal.put("skew_length", ", target: 10");
    minimal.put("regex", ", pattern: '\\d+'");
    minimal.put("contains", ", text: Paris");
    minimal.put("model", ", path: rm");
    minimal.put("http", ", url: 'https://example.org/r', headers: {X-Key: v}");
    minimal.put("overlong", ", max_length: 8, buffer: 2");
    minimal.put("sum", ", terms: [{weight: 2, reward: {type: min_length}}]");
    for (String name : RewardSpec.names()) {
      Holder h = bind("reward: {type: " + name + minimal.getOrDefault(name, "") + "}\n");
      assertEquals(name, h.reward().type());
      assertEquals(RewardSpec.classOf(name), h.reward().getClass());
      String yaml = RecipeLoader.toYaml(h);
      assertTrue(yaml.contains("type: " + name), yaml);
      Holder again =
          RecipeLoader.bind((ObjectNode) readTree(yaml), List.of(), "round trip", Holder.class);
      assertEquals(h.reward(), again.reward(), yaml);
      assertEquals(RecipeLoader.flatten(h), RecipeLoader.flatten(again));
    }
    assertEquals(12, RewardSpec.names().size());
  }

  static com.fasterxml.jackson.databind.JsonNode readTree(String yaml) {
    try {
      return YAML.readTree(yaml);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void explainListsTheChosenRewardsKeysWithHelp() {
    String text =
        RecipeHelp.explain(
            bind(
                "reward: {type: bump, center: 20}\n"
                    + "online: {reward: {type: http, url: 'http://h/r', headers: {X-Key: v}}}\n"));
    assertTrue(
        text.contains("reward.type:") && text.contains("one of min_length, mode_length"), text);
    assertTrue(
        text.contains("reward.center:")
            && text.contains("20.0")
            && text.contains("token id at the peak"),
        text);
    assertTrue(
        text.contains("online.reward.timeout_s:")
            && text.contains("online.reward.headers:")
            && text.contains("{X-Key=v}"),
        text);
  }

  @Test
  void unknownTypesKeysAndBadValuesNameTheKey() {
    String msg = error("reward: bumpp\n");
    assertTrue(
        msg.contains("unknown reward type 'bumpp'") && msg.contains("min_length, mode_length"),
        msg);
    msg = error("online: {gold_reward: {type: lenght}}\n");
    assertTrue(
        msg.contains("unknown reward type 'lenght'") && msg.contains("online.gold_reward"), msg);
    msg = error("reward: {type: bump, widht: 3}\n");
    assertTrue(msg.contains("'reward.widht'") && msg.contains("width"), msg);
    assertTrue(
        error("reward: {type: bump, width: 0}\n").contains("reward.width must be > 0, got 0.0"));
    assertTrue(error("reward: {type: bump, width: wide}\n").contains("'reward.width'"));
    msg = error("reward: {type: min_length, unit: bytes}\n");
    assertTrue(msg.contains("'reward.unit'") && msg.contains("tokens, chars, words"), msg);
    assertTrue(error("reward: mode_length\n").contains("reward.target is required"));
    assertTrue(
        error("reward: {type: skew_length, target: 5, below_weight: 0, above_weight: 0}\n")
            .contains("cannot both be 0"));
    assertTrue(
        error("reward: {type: regex, pattern: '(unclosed'}\n")
            .contains("reward.pattern is not a valid regular"));
    assertTrue(error("reward: contains\n").contains("reward.text is required"));
    assertTrue(error("reward: model\n").contains("reward.path is required"));
    assertTrue(
        error("reward: {type: model, path: rm, batch_size: 0}\n")
            .contains("reward.batch_size must be > 0"));
    assertTrue(
        error("reward: {type: http, url: 'localhost:8000'}\n")
            .contains("reward.url must be an http(s) URL"));
    msg = error("reward: {center: 20}\n");
    assertTrue(msg.contains("'reward' needs a type") && msg.contains("bump"), msg);
    assertTrue(error("reward: bump\n", "reward.type=dpo").contains("unknown reward type 'dpo'"));
  }
}
