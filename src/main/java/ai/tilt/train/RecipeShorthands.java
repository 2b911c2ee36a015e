package ai.tilt.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * The short forms a recipe may use, expanded in its YAML tree before binding ({@link
 * RecipeLoader}): a bare type name for a sealed choice, and a list of rewards for their weighted
 * sum.
 */
final class RecipeShorthands {
  private RecipeShorthands() {}

  /** Keys whose value may be a bare type name: a loss, a reward or a generator. */
  private static final List<String> SHORTHANDS =
      List.of(
          "loss",
          "reward",
          "online.reward",
          "online.gold_reward",
          "eval.gold_reward",
          "online.generator");

  /**
   * {@code loss: sft} is shorthand for {@code loss: {type: sft}}, and likewise {@code reward:
   * min_length} at each of {@link #SHORTHANDS}.
   */
  static void expand(ObjectNode tree) {
    for (String dotted : SHORTHANDS) {
      String[] keys = dotted.split("\\.");
      JsonNode node = tree;
      for (int i = 0; i < keys.length - 1 && node != null; i++) {
        node = node.get(keys[i]);
      }
      JsonNode value = node == null ? null : node.get(keys[keys.length - 1]);
      if (node instanceof ObjectNode parent && value != null && value.isTextual()) {
        parent.putObject(keys[keys.length - 1]).put("type", value.asText());
      } else if (node instanceof ObjectNode parent
          && value != null
          && value.isArray()
          && dotted.endsWith("reward")) {
        parent.set(keys[keys.length - 1], rewardList(value));
      }
    }
  }

  /**
   * A reward list, {@code [{type: math, weight: 2}, overlong]}, as the {@code sum} reward it means:
   * each item's {@code weight} and {@code name} go to its term, the rest is its reward.
   */
  private static ObjectNode rewardList(JsonNode items) {
    ObjectNode sum = JsonNodeFactory.instance.objectNode().put("type", "sum");
    ArrayNode terms = sum.putArray("terms");
    for (JsonNode item : items) {
      ObjectNode term = terms.addObject();
      if (item.isTextual()) {
        term.putObject("reward").put("type", item.asText());
      } else if (item instanceof ObjectNode o) {
        ObjectNode reward = o.deepCopy();
        for (String k : List.of("name", "weight")) {
          if (reward.has(k)) {
            term.set(k, reward.remove(k));
          }
        }
        term.set("reward", reward);
      } else {
        term.set("reward", item); // binding names what is wrong with it
      }
    }
    return sum;
  }
}
