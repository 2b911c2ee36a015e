package ai.tilt.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The preference sets Tajwar et al. (2024) released (for example {@code
 * Asap7772/relabeled_alpacafarm_pythiasft_20K_preference_data_minlength}: its hub name in the local
 * cache, its Parquet files or a JSON Lines export) as Tilt's pairs: each row's {@code y_w} and
 * {@code y_l} become {@code chosen} and {@code rejected} (their scores {@code score_chosen} and
 * {@code score_rejected}), and the prompt is put in the paper's Pythia SFT template, {@code
 * <|prompter|>{instruction}[\n{input}]<|endoftext|> <|assistant|>} (shared/notes/paper.md, section
 * 5.1), from the row's {@code instruction} and {@code input} when it has them (the alpaca-format
 * copies), else from its {@code prompt}. A prompt that already holds the template is kept as it is.
 */
public final class PaperPreferences {
  static final String PROMPTER = "<|prompter|>";
  static final String ASSISTANT = "<|endoftext|><|assistant|>";

  private PaperPreferences() {}

  /** The paper's prompt template around an instruction and an optional input. */
  public static String template(String instruction, String input) {
    return PROMPTER
        + instruction
        + (input == null || input.isBlank() ? "" : "\n" + input)
        + ASSISTANT;
  }

  /**
   * One row as a Tilt pair.
   *
   * @param where "file:line", for errors
   * @throws IllegalArgumentException naming {@code where} and the field a row lacks
   */
  public static ObjectNode pair(JsonNode row, String where, ObjectMapper json) {
    if (!row.isObject()) {
      throw new IllegalArgumentException(where + ": a row is a JSON object");
    }
    String prompt;
    if (row.hasNonNull("instruction")) {
      prompt = template(row.get("instruction").asText(), text(row, "input"));
    } else {
      String p = required(row, "prompt", where);
      prompt = p.startsWith(PROMPTER) ? p : template(p, null);
    }
    ObjectNode out = json.createObjectNode();
    out.put("prompt", prompt);
    out.put("chosen", required(row, "y_w", where));
    out.put("rejected", required(row, "y_l", where));
    if (row.hasNonNull("y_w_score") && row.hasNonNull("y_l_score")) {
      out.put("score_chosen", row.get("y_w_score").asDouble());
      out.put("score_rejected", row.get("y_l_score").asDouble());
    }
    return out;
  }

  /** Converts a JSON Lines export; returns the number of pairs written. */
  public static int convert(Path in, Path out) throws IOException {
    return convert(DataSpec.of(in), out);
  }

  /**
   * Converts the set in any form a recipe reads (JSON Lines, the hub's Parquet files, a {@code
   * save_to_disk} folder, its hub name in the local cache); returns the number of pairs written.
   */
  public static int convert(DataSpec in, Path out) throws IOException {
    ObjectMapper json = new ObjectMapper();
    Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
    int n = 0;
    try (DataRows rows = DataRows.open(in);
        BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
      Row row;
      while ((row = rows.next()) != null) {
        JsonNode o;
        try {
          o = row.object(); // bad JSON names its file and line
        } catch (JsonFields.Invalid e) {
          throw new DataException(row.message(e));
        }
        w.write(json.writeValueAsString(pair(o, row.where(), json)));
        w.write('\n');
        n++;
      }
    } catch (RuntimeException | IOException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
    Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING);
    return n;
  }

  private static String required(JsonNode row, String field, String where) {
    JsonNode v = row.get(field);
    if (v == null || v.isNull() || !v.isTextual()) {
      throw new IllegalArgumentException(
          where
              + ": field '"
              + field
              + "' is missing or not text (the paper's columns: prompt,"
              + " y_w, y_l, y_w_score, y_l_score)");
    }
    return v.asText();
  }

  private static String text(JsonNode row, String field) {
    JsonNode v = row.get(field);
    return v == null || v.isNull() ? null : v.asText();
  }
}
