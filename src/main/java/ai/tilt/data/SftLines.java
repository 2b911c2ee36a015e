package ai.tilt.data;

import static ai.tilt.data.JsonFields.messageList;
import static ai.tilt.data.JsonFields.present;
import static ai.tilt.data.JsonFields.required;
import static ai.tilt.data.JsonFields.type;

import ai.tilt.data.JsonFields.Invalid;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * One line of an SFT file into ids and targets, then the truncation rule ({@link SftDataset} states
 * the formats and rules; this class is its parser).
 */
final class SftLines {
  private final TextTokenizer tok;
  private final DataOptions options;
  private final TextEncoding encoding;

  SftLines(TextTokenizer tok, DataOptions options) {
    this.tok = tok;
    this.options = options;
    this.encoding = tok == null ? null : new TextEncoding(tok, options.appendEos());
  }

  SftExample example(JsonNode o, int line) throws Invalid {
    boolean lm = present(o, "text");
    boolean chat = present(o, "messages");
    boolean pc = present(o, "prompt") || present(o, "completion");
    boolean pre = present(o, "prompt_ids") || present(o, "completion_ids");
    if ((lm ? 1 : 0) + (chat ? 1 : 0) + (pc ? 1 : 0) + (pre ? 1 : 0) != 1) {
      throw new Invalid(
          "a line needs exactly one of \"text\", \"prompt\" + \"completion\","
              + " \"messages\" or \"prompt_ids\" + \"completion_ids\""
              + (lm || chat || pc || pre ? " (found several)" : ""),
          true);
    }
    if (!pre && tok == null) {
      // a property of the model, not of a line: never skipped
      throw new DataException(
          "text and chat lines need a tokenizer, and the model has no tokenizer files;"
              + " give \"prompt_ids\" and \"completion_ids\"");
    }
    long[][] encoded =
        pre ? preTokenized(o) : lm ? text(o) : chat ? messages(o) : promptCompletion(o);
    return fit(encoded[0], encoded[1], line);
  }

  /** Returns {ids, {from, to, ...}}: ids and the spans of target tokens (as for all formats). */
  private long[][] text(JsonNode o) throws Invalid {
    String s = string(o, "text");
    if (s.isEmpty()) {
      throw new Invalid("empty \"text\"");
    }
    long[] ids = encoding.withEos(encoding.prompt(s));
    return new long[][] {ids, {1, ids.length}};
  }

  private long[][] preTokenized(JsonNode o) throws Invalid {
    long[] prompt = idList(o, "prompt_ids");
    long[] completion = idList(o, "completion_ids");
    if (completion.length == 0) {
      throw new Invalid("empty \"completion_ids\"");
    }
    long[] ids = SftDataset.concat(prompt, completion);
    return new long[][] {ids, {prompt.length, ids.length}};
  }

  private static long[] idList(JsonNode o, String field) throws Invalid {
    JsonNode v = required(o, field);
    if (!v.isArray()) {
      throw new Invalid("field \"" + field + "\" must be a list of token ids, got " + type(v));
    }
    long[] out = new long[v.size()];
    for (int i = 0; i < out.length; i++) {
      JsonNode e = v.get(i);
      if (!e.canConvertToLong() || e.isFloatingPointNumber() || e.asLong() < 0) {
        throw new Invalid(field + "[" + i + "] is not a token id: " + e);
      }
      out[i] = e.asLong();
    }
    return out;
  }

  private long[][] promptCompletion(JsonNode o) throws Invalid {
    JsonNode p = required(o, "prompt");
    JsonNode c = required(o, "completion");
    if (p.isTextual()) {
      if (!c.isTextual()) {
        throw new Invalid(
            "field \"completion\" must be a string when \"prompt\" is one, got " + type(c));
      }
      long[] completion = tok.encode(c.asText(), false);
      if (completion.length == 0) {
        throw new Invalid("empty completion");
      }
      long[] prompt = encoding.prompt(p.asText());
      long[] ids = SftDataset.concat(prompt, encoding.withEos(completion));
      return new long[][] {ids, {prompt.length, ids.length}};
    }
    if (!p.isArray()) {
      throw new Invalid("field \"prompt\" must be a string or a list of messages, got " + type(p));
    }
    List<Map<String, Object>> prompt = messageList(p, "prompt");
    String content = c.isTextual() ? c.asText() : assistantContent(c);
    if (content.isEmpty()) {
      throw new Invalid("empty completion");
    }
    List<Map<String, Object>> full = new ArrayList<>(prompt);
    full.add(Map.of("role", "assistant", "content", content));
    long[] head = encoding.chat(prompt, true);
    long[] all = encoding.chat(full, false);
    if (!SftDataset.startsWith(all, head) || all.length == head.length) {
      throw new Invalid(
          "chat template does not render the prompt as a prefix of the"
              + " conversation with its completion (prompt "
              + head.length
              + " tokens, conversation "
              + all.length
              + ")");
    }
    return new long[][] {all, {head.length, all.length}};
  }

  private long[][] messages(JsonNode o) throws Invalid {
    List<Map<String, Object>> msgs = messageList(o.get("messages"), "messages");
    int last = -1;
    for (int i = 0; i < msgs.size(); i++) {
      last = "assistant".equals(msgs.get(i).get("role")) ? i : last;
    }
    if (last < 0) {
      throw new Invalid("no assistant turn in \"messages\"");
    }
    // Turns after the last assistant reply carry no target: leave them out.
    long[] seq = encoding.chat(msgs.subList(0, last + 1), false);
    List<Long> spans = new ArrayList<>();
    for (int i = 0; i <= last; i++) {
      if (!"assistant".equals(msgs.get(i).get("role"))) {
        continue;
      }
      long[] before = encoding.chat(msgs.subList(0, i), true);
      long[] after = i == last ? seq : encoding.chat(msgs.subList(0, i + 1), false);
      if (!SftDataset.startsWith(after, before) || !SftDataset.startsWith(seq, after)) {
        throw new Invalid(
            "chat template is not prefix-stable at messages["
                + i
                + "]: rendering"
                + " the conversation up to this assistant turn does not extend the rendering before"
                + " it, or is changed by later turns");
      }
      spans.add((long) before.length);
      spans.add((long) after.length);
    }
    return new long[][] {seq, spans.stream().mapToLong(Long::longValue).toArray()};
  }

  /** Marks the target spans [from, to), then applies the class comment's truncation rule. */
  private SftExample fit(long[] ids, long[] spans, int line) throws Invalid {
    boolean[] targets = new boolean[ids.length];
    for (int s = 0; s < spans.length; s += 2) {
      Arrays.fill(targets, (int) spans[s], (int) spans[s + 1], true);
    }
    if (ids.length > 0) {
      targets[0] = false; // an empty prompt: nothing predicts the first completion token
    }
    int p = 0;
    while (p < ids.length && !targets[p]) {
      p++;
    }
    if (p == ids.length) {
      throw new Invalid("no target tokens (the first token of a sequence cannot be one)");
    }
    boolean cut = false;
    Integer maxPrompt = options.maxPromptLength();
    if (maxPrompt != null && p > maxPrompt) {
      int head = tok != null && tok.bosId() != null && ids[0] == tok.bosId() ? 1 : 0;
      int drop = p - maxPrompt;
      ids =
          SftDataset.concat(
              Arrays.copyOf(ids, head), Arrays.copyOfRange(ids, head + drop, ids.length));
      boolean[] t = new boolean[ids.length];
      System.arraycopy(targets, head + drop, t, head, ids.length - head);
      targets = t;
      p = maxPrompt;
      cut = true;
    }
    int max = options.maxLength();
    if (p >= max) {
      throw new Invalid(
          "prompt has "
              + p
              + " tokens, leaving no room for a completion within"
              + " maxLength "
              + max
              + " (set maxPromptLength to truncate prompts)");
    }
    if (ids.length > max) {
      ids = Arrays.copyOf(ids, max);
      targets = Arrays.copyOf(targets, max);
      cut = true;
    }
    return new SftExample(ids, targets, line, cut);
  }

  private static String assistantContent(JsonNode c) throws Invalid {
    if (!c.isArray() || c.size() != 1 || !c.get(0).isObject()) {
      throw new Invalid(
          "field \"completion\" must be a string or a list with one assistant" + " message");
    }
    JsonNode m = c.get(0);
    if (!"assistant".equals(m.path("role").asText(null))) {
      throw new Invalid(
          "the completion message must have role \"assistant\", got " + m.get("role"));
    }
    JsonNode content = m.get("content");
    if (content == null || !content.isTextual()) {
      throw new Invalid("completion[0].content must be a string");
    }
    return content.asText();
  }

  private static String string(JsonNode o, String field) throws Invalid {
    JsonNode v = required(o, field);
    if (!v.isTextual()) {
      throw new Invalid("field \"" + field + "\" must be a string, got " + type(v));
    }
    return v.asText();
  }
}
