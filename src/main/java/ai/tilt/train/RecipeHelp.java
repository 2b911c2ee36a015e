package ai.tilt.train;

import ai.tilt.doc.Doc;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import java.lang.reflect.RecordComponent;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code tilt recipe explain}: every key of a resolved recipe with its value and its help text (the
 * {@link Doc} on the record component), a chosen loss's, reward's or generator's own keys under its
 * type.
 */
public final class RecipeHelp {
  private RecipeHelp() {}

  /** Every key with its resolved value and help text, for {@code tilt recipe explain}. */
  public static String explain(Record recipe) {
    StringBuilder sb = new StringBuilder();
    Map<String, String> values = RecipeLoader.flatten(recipe);
    explain("", recipe.getClass(), values, sb);
    return sb.toString();
  }

  private static void explain(
      String prefix, Class<?> type, Map<String, String> values, StringBuilder sb) {
    for (RecordComponent c : type.getRecordComponents()) {
      String key =
          prefix + PropertyNamingStrategies.SnakeCaseStrategy.INSTANCE.translate(c.getName());
      Doc doc = c.getAnnotation(Doc.class);
      Class<?> t = c.getType();
      if (t.isRecord()) {
        sb.append(key).append(":  # ").append(doc == null ? "" : doc.value()).append('\n');
        explain(key + ".", t, values, sb);
      } else if (RecipeLoader.choiceOf(t) != null) {
        RecipeLoader.Choice choice = RecipeLoader.choiceOf(t);
        sb.append(key).append(":  # ").append(doc == null ? "" : doc.value()).append('\n');
        String name = values.getOrDefault(key + ".type", "null");
        sb.append(
            String.format(
                "  %-32s %-14s # %s%n",
                key + ".type:", name, "one of " + String.join(", ", choice.names())));
        Class<?> chosen = choice.classOf().apply(name);
        if (chosen != null) {
          explain(key + ".", chosen, values, sb); // the chosen type's own keys, with their help
        }
      } else {
        String v = values.getOrDefault(key, "null");
        if (Map.class.isAssignableFrom(t)) { // flattened as key.entry: gather the entries back
          Map<String, String> entries = new LinkedHashMap<>();
          values.forEach(
              (k, x) -> {
                if (k.startsWith(key + ".")) {
                  entries.put(k.substring(key.length() + 1), x);
                }
              });
          v = entries.isEmpty() ? "{}" : entries.toString();
        }
        sb.append(
            String.format("  %-32s %-14s # %s%n", key + ":", v, doc == null ? "" : doc.value()));
      }
    }
  }
}
