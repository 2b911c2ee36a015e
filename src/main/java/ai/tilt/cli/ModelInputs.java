package ai.tilt.cli;

import ai.tilt.data.Jsonl;
import ai.tilt.model.CausalLM;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns an input line's prompt (and completion) into token ids the way the rest of Tilt does: text
 * prompts are encoded with the tokenizer's special tokens (BOS where it adds one), chat {@code
 * messages} are rendered with the chat template and a generation prompt and encoded without adding
 * special tokens again, completions are encoded without special tokens.
 */
final class ModelInputs {
  private final CausalLM model;
  private final TextTokenizer tokenizer; // null when the model directory has none

  ModelInputs(CausalLM model, TextTokenizer tokenizer) {
    this.model = model;
    this.tokenizer = tokenizer;
  }

  boolean hasTokenizer() {
    return tokenizer != null;
  }

  /**
   * The prompt ids of a line holding {@code prompt_ids}, {@code messages} or a text {@code prompt}.
   */
  long[] prompt(Jsonl.Line line) {
    long[] ids;
    if (line.has("prompt_ids")) {
      ids = line.ids("prompt_ids");
    } else if (line.has("messages")
        || (line.has("prompt") && line.json().get("prompt").isArray())) {
      JsonNode msgs =
          line.has("messages") ? line.json().get("messages") : line.json().get("prompt");
      ids = needTokenizer(line, "messages").encodeChat(messages(line, msgs), true, Map.of());
    } else if (line.has("prompt")) {
      ids = needTokenizer(line, "prompt").encodePrompt(line.text("prompt"));
    } else {
      throw line.error("needs one of 'prompt', 'messages' or 'prompt_ids'");
    }
    if (ids.length == 0) {
      throw line.error("the prompt encodes to no tokens");
    }
    return checkRange(line, ids);
  }

  /** The completion ids of a line holding {@code completion_ids} or a text {@code completion}. */
  long[] completion(Jsonl.Line line) {
    long[] ids;
    if (line.has("completion_ids")) {
      ids = line.ids("completion_ids");
    } else if (line.has("completion")) {
      ids = needTokenizer(line, "completion").encode(line.text("completion"), false);
    } else {
      throw line.error("needs 'completion' or 'completion_ids'");
    }
    if (ids.length == 0) {
      throw line.error("the completion is empty");
    }
    return checkRange(line, ids);
  }

  String decode(long[] ids) {
    return tokenizer == null ? null : tokenizer.decode(ids, true);
  }

  private long[] checkRange(Jsonl.Line line, long[] ids) {
    int v = model.config().vocabSize();
    for (long id : ids) {
      if (id >= v) {
        throw line.error("token id " + id + " is outside the model's vocabulary of " + v);
      }
    }
    return ids;
  }

  private TextTokenizer needTokenizer(Jsonl.Line line, String field) {
    if (tokenizer == null) {
      throw line.error(
          "field '"
              + field
              + "' needs a tokenizer, but the model directory has no tokenizer.json; give token ids instead");
    }
    return tokenizer;
  }

  private static List<Map<String, Object>> messages(Jsonl.Line line, JsonNode msgs) {
    if (!msgs.isArray() || msgs.size() == 0) {
      throw line.error("'messages' must be a non-empty array of {role, content}");
    }
    for (int i = 0; i < msgs.size(); i++) {
      JsonNode m = msgs.get(i);
      if (!m.isObject() || !m.path("role").isTextual()) {
        throw line.error("messages[" + i + "] needs a string 'role'");
      }
    }
    return Jsonl.mapper().convertValue(msgs, new TypeReference<List<Map<String, Object>>>() {});
  }

  static Map<String, Object> kwargs(Jsonl.Line line) {
    JsonNode k = line.json().get("kwargs");
    if (k == null || k.isNull()) {
      return new HashMap<>();
    }
    if (!k.isObject()) {
      throw line.error("'kwargs' must be an object");
    }
    return Jsonl.mapper().convertValue(k, new TypeReference<Map<String, Object>>() {});
  }
}
