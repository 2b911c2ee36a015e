package ai.tilt.data;

import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Prompts for on-policy training and evaluation: JSONL lines with {@code prompt} (text), {@code
 * messages} (a chat, rendered with the template and a generation prompt) or {@code prompt_ids},
 * plus any other fields a reward may read (an {@code answer} for exact match). For offline runs a
 * line also holds {@code responses}: the answers the iteration uses instead of samples, tokenised
 * like preference responses (EOS appended once to text), or {@code response_ids} (lists of token
 * ids, taken as they are), and optionally their labels: {@code rewards} with {@code responses},
 * {@code response_rewards} with {@code response_ids} (as {@code tilt data pairs} writes). Labelled
 * offline data is trained on its own labels, as the offline methods of Tajwar et al. (2024) train
 * on D_pref's.
 */
public final class PromptSet {
  /**
   * One prompt.
   *
   * @param ids the prompt's token ids (BOS at most once)
   * @param text the prompt as text (rendered chat for messages), or null for id input
   * @param record the whole JSONL line, for rewards that read other fields
   * @param responses offline responses' ids, or empty
   * @param rewards the offline responses' labels, or null when the line has none
   * @param line 1-based line number
   */
  public record Prompt(
      long[] ids,
      String text,
      JsonNode record,
      List<long[]> responses,
      double[] rewards,
      int line) {}

  private PromptSet() {}

  /**
   * Reads prompts; with {@code withResponses} every line must also hold a non-empty list of text
   * {@code responses}.
   */
  public static List<Prompt> load(
      Path file, TextTokenizer tok, int vocabSize, boolean withResponses, boolean appendEos)
      throws IOException {
    if (!Files.exists(file)) {
      throw new IOException("no such file: " + file);
    }
    return load(DataSpec.of(file), tok, vocabSize, withResponses, appendEos);
  }

  /** Reads prompts from a data set in any of {@link DataFiles}' forms. */
  public static List<Prompt> load(
      DataSpec data, TextTokenizer tok, int vocabSize, boolean withResponses, boolean appendEos)
      throws IOException {
    List<Prompt> out = new ArrayList<>();
    TextEncoding encoding = tok == null ? null : new TextEncoding(tok, appendEos);
    for (Jsonl.Line line : lines(data)) {
      long[] ids;
      String text = null;
      if (line.has("prompt_ids")) {
        ids = line.ids("prompt_ids");
      } else if (line.has("messages")
          || (line.has("prompt") && line.json().get("prompt").isArray())) {
        JsonNode msgs =
            line.has("messages") ? line.json().get("messages") : line.json().get("prompt");
        List<Map<String, Object>> m =
            Jsonl.mapper().convertValue(msgs, new TypeReference<List<Map<String, Object>>>() {});
        need(tok, line);
        text = render(encoding, m, line); // what rewards read
        ids = encoding.prompt(text);
      } else if (line.has("prompt")) {
        text = line.text("prompt");
        need(tok, line);
        ids = encoding.prompt(text);
      } else {
        throw line.error("needs 'prompt', 'messages' or 'prompt_ids'");
      }
      if (ids.length == 0) {
        throw line.error("the prompt encodes to no tokens");
      }
      for (long id : ids) {
        if (id >= vocabSize) {
          throw line.error("token id " + id + " is outside the model's vocabulary of " + vocabSize);
        }
      }
      List<long[]> responses = new ArrayList<>();
      if (withResponses && line.has("response_ids")) {
        JsonNode rs = line.json().get("response_ids");
        if (!rs.isArray() || rs.size() == 0) {
          throw line.error("'response_ids' must be a non-empty list of token-id lists");
        }
        for (int i = 0; i < rs.size(); i++) {
          ObjectNode one = Jsonl.mapper().createObjectNode();
          one.set("ids", rs.get(i));
          long[] r = new Jsonl.Line(line.file(), line.number(), one, line.where()).ids("ids");
          if (r.length == 0) {
            throw line.error("response_ids[" + i + "] is empty");
          }
          responses.add(r);
        }
      } else if (withResponses) {
        JsonNode rs = line.json().get("responses");
        if (rs == null || !rs.isArray() || rs.size() == 0) {
          throw line.error("an offline run needs 'responses': a non-empty list of strings");
        }
        for (int i = 0; i < rs.size(); i++) {
          if (!rs.get(i).isTextual() || rs.get(i).asText().isEmpty()) {
            throw line.error("responses[" + i + "] must be a non-empty string");
          }
          need(tok, line);
          responses.add(encoding.completion(rs.get(i).asText()));
        }
      }
      double[] rewards = null;
      String labels = line.has("response_ids") ? "response_rewards" : "rewards";
      if (withResponses && line.has(labels)) {
        JsonNode rw = line.json().get(labels);
        if (!rw.isArray() || rw.size() != responses.size()) {
          throw line.error(
              "'"
                  + labels
                  + "' must be a list of "
                  + responses.size()
                  + " numbers, one per response");
        }
        rewards = new double[rw.size()];
        for (int i = 0; i < rewards.length; i++) {
          if (!rw.get(i).isNumber() || !Double.isFinite(rw.get(i).asDouble())) {
            throw line.error(labels + "[" + i + "] is not a finite number: " + rw.get(i));
          }
          rewards[i] = rw.get(i).asDouble();
        }
      }
      out.add(new Prompt(ids, text, line.json(), responses, rewards, line.number()));
    }
    if (out.isEmpty()) {
      throw new DataException(data.name() + ": no prompts");
    }
    return out;
  }

  /** Every row, parsed; a row that is not a JSON object stops the load naming it. */
  private static List<Jsonl.Line> lines(DataSpec data) throws IOException {
    List<Jsonl.Line> out = new ArrayList<>();
    try (DataRows rows = DataRows.open(data)) {
      Row row;
      while ((row = rows.next()) != null) {
        try {
          out.add(new Jsonl.Line(null, row.number(), row.object(), row.where()));
        } catch (JsonFields.Invalid e) {
          throw new DataException(row.message(e));
        }
      }
    }
    return out;
  }

  private static String render(
      TextEncoding encoding, List<Map<String, Object>> messages, Jsonl.Line line) {
    try {
      return encoding.render(messages, true);
    } catch (JsonFields.Invalid e) {
      throw line.error(e.getMessage());
    }
  }

  private static TextTokenizer need(TextTokenizer tok, Jsonl.Line line) {
    if (tok == null) {
      throw line.error("text prompts need a tokenizer; the model has none, give prompt_ids");
    }
    return tok;
  }
}
