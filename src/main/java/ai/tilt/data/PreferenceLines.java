package ai.tilt.data;

import static ai.tilt.data.JsonFields.messageList;
import static ai.tilt.data.JsonFields.present;
import static ai.tilt.data.JsonFields.required;
import static ai.tilt.data.JsonFields.type;

import ai.tilt.data.JsonFields.Invalid;
import ai.tilt.data.PreferenceDataset.Kind;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Turns one parsed line of a preference file into a prompt's ids and its responses' ids, before
 * truncation. The rules are stated on {@link PreferenceDataset}; this class is its parser, split
 * out to keep each file readable.
 */
final class PreferenceLines {
  /** A line's tokens before truncation. */
  record Parsed(long[] prompt, List<long[]> responses, double[] rewards) {}

  /** A prompt's ids and, when it is a chat, its messages (null for a text prompt). */
  private record Prompt(long[] ids, List<Map<String, Object>> messages) {}

  private final TextTokenizer tok;
  private final DataOptions options;
  private final TextEncoding encoding; // null without a tokenizer (id lines only)

  PreferenceLines(TextTokenizer tok, DataOptions options) {
    this.tok = tok;
    this.options = options;
    this.encoding = tok == null ? null : new TextEncoding(tok, options.appendEos());
  }

  /** The kind a line's fields announce; a line with fields of no kind or of several is bad. */
  static Kind kindOf(JsonNode o) throws Invalid {
    List<Kind> kinds = new ArrayList<>();
    if (present(o, "chosen") || present(o, "rejected")) {
      kinds.add(Kind.PAIRS);
    }
    if (present(o, "completion") || present(o, "label")) {
      kinds.add(Kind.UNPAIRED);
    }
    if (present(o, "responses") || present(o, "rewards")) {
      kinds.add(Kind.SCORED_LISTS);
    }
    if (kinds.size() != 1) {
      throw new Invalid(
          (kinds.isEmpty() ? "not a preference line" : "fields of several kinds")
              + ": expected \"chosen\" + \"rejected\" (pairs), \"completion\" + \"label\" (unpaired)"
              + " or \"responses\" + \"rewards\" (scored lists), each with \"prompt\"",
          true);
    }
    return kinds.get(0);
  }

  Parsed parse(JsonNode o, Kind kind) throws Invalid {
    switch (kind) {
      case PAIRS:
        return pair(o);
      case UNPAIRED:
        {
          Prompt p = prompt(required(o, "prompt"));
          JsonNode label = required(o, "label");
          if (!label.isBoolean()) {
            throw new Invalid(
                "field \"label\" must be a boolean (true: desirable, false:"
                    + " undesirable), got "
                    + type(label));
          }
          long[] completion = response(p, required(o, "completion"), "completion");
          return new Parsed(
              p.ids(), List.of(completion), new double[] {label.booleanValue() ? 1 : 0});
        }
      case SCORED_LISTS:
        return scoredList(o);
      default:
        throw new AssertionError(kind);
    }
  }

  private Parsed pair(JsonNode o) throws Invalid {
    JsonNode c = required(o, "chosen");
    JsonNode r = required(o, "rejected");
    double[] rewards = {1, 0};
    boolean sc = present(o, "score_chosen");
    if (sc != present(o, "score_rejected")) {
      throw new Invalid(
          "\"score_chosen\" and \"score_rejected\" go together, but only \""
              + (sc ? "score_chosen" : "score_rejected")
              + "\" is given");
    }
    if (sc) {
      rewards =
          new double[] {
            number(o.get("score_chosen"), "score_chosen"),
            number(o.get("score_rejected"), "score_rejected")
          };
    }
    Prompt p;
    long[] chosen;
    long[] rejected;
    if (present(o, "prompt")) {
      p = prompt(o.get("prompt"));
      chosen = response(p, c, "chosen");
      rejected = response(p, r, "rejected");
    } else {
      // TRL's implicit prompt: two whole conversations that differ only in the last reply.
      if (!c.isArray() || !r.isArray()) {
        throw new Invalid(
            "missing field \"prompt\" (only conversational chosen and rejected"
                + " may leave it implicit)");
      }
      List<Map<String, Object>> cm = messageList(c, "chosen");
      List<Map<String, Object>> rm = messageList(r, "rejected");
      int n = cm.size();
      if (n < 2 || rm.size() != n || !cm.subList(0, n - 1).equals(rm.subList(0, n - 1))) {
        throw new Invalid(
            "without \"prompt\", chosen and rejected must be conversations that"
                + " share every message but the last (the implicit prompt) and end with one"
                + " assistant reply each");
      }
      String cr = lastAssistant(cm, "chosen");
      String rr = lastAssistant(rm, "rejected");
      List<Map<String, Object>> shared = cm.subList(0, n - 1);
      p = new Prompt(encoding.chat(shared, true), shared);
      chosen = continuation(p, cr, "chosen");
      rejected = continuation(p, rr, "rejected");
    }
    if (Arrays.equals(chosen, rejected)) {
      throw new Invalid("chosen and rejected are identical");
    }
    return new Parsed(p.ids(), List.of(chosen, rejected), rewards);
  }

  private Parsed scoredList(JsonNode o) throws Invalid {
    Prompt p = prompt(required(o, "prompt"));
    JsonNode rs = required(o, "responses");
    JsonNode ws = required(o, "rewards");
    if (!rs.isArray() || rs.isEmpty()) {
      throw new Invalid(
          "field \"responses\" must be a non-empty list, got "
              + (rs.isArray() ? "an empty one" : type(rs)));
    }
    if (!ws.isArray()) {
      throw new Invalid("field \"rewards\" must be a list of numbers, got " + type(ws));
    }
    if (ws.size() != rs.size()) {
      throw new Invalid(ws.size() + " rewards for " + rs.size() + " responses");
    }
    double[] rewards = new double[ws.size()];
    for (int i = 0; i < rewards.length; i++) {
      rewards[i] = number(ws.get(i), "rewards[" + i + "]");
    }
    List<long[]> responses = new ArrayList<>();
    for (int i = 0; i < rs.size(); i++) {
      responses.add(response(p, rs.get(i), "responses[" + i + "]"));
    }
    return new Parsed(p.ids(), responses, rewards);
  }

  private Prompt prompt(JsonNode p) throws Invalid {
    if (p.isTextual()) {
      return new Prompt(encoding.prompt(p.asText()), null);
    }
    if (!p.isArray()) {
      throw new Invalid("field \"prompt\" must be a string or a list of messages, got " + type(p));
    }
    List<Map<String, Object>> msgs = messageList(p, "prompt");
    return new Prompt(encoding.chat(msgs, true), msgs);
  }

  /** A response to a prompt: text gets the EOS rule, a chat reply the template's tokens. */
  private long[] response(Prompt p, JsonNode r, String what) throws Invalid {
    if (p.messages() == null) {
      if (!r.isTextual()) {
        throw new Invalid(
            "field \"" + what + "\" must be a string when \"prompt\" is one, got " + type(r));
      }
      long[] ids = tok.encode(r.asText(), false);
      // An empty text response is the EOS alone: an answer that stops at once (the Min Length
      // task's optimum) is a real response. Without EOS there would be nothing to score.
      if (ids.length == 0 && !encoding.appendsEos()) {
        throw new Invalid("empty " + what + " (and data.append_eos is off, so it has no tokens)");
      }
      return encoding.withEos(ids);
    }
    String content = r.isTextual() ? r.asText() : assistantContent(r, what);
    return continuation(p, content, what);
  }

  /**
   * The tokens that rendering prompt + the assistant reply adds to rendering the prompt with a
   * generation prompt: the reply and the template's end of turn, with the assistant header left in
   * the prompt (never repeated in the response).
   */
  private long[] continuation(Prompt p, String content, String what) throws Invalid {
    if (content.isEmpty()) {
      throw new Invalid("empty " + what);
    }
    List<Map<String, Object>> full = new ArrayList<>(p.messages());
    full.add(Map.of("role", "assistant", "content", content));
    long[] all = encoding.chat(full, false);
    if (!SftDataset.startsWith(all, p.ids()) || all.length == p.ids().length) {
      throw new Invalid(
          "chat template is not prefix-stable for "
              + what
              + ": the prompt"
              + " rendered with a generation prompt ("
              + p.ids().length
              + " tokens) is not a prefix"
              + " of the prompt rendered with the reply ("
              + all.length
              + " tokens)");
    }
    return Arrays.copyOfRange(all, p.ids().length, all.length);
  }

  private static String lastAssistant(List<Map<String, Object>> msgs, String what) throws Invalid {
    Map<String, Object> m = msgs.get(msgs.size() - 1);
    if (!"assistant".equals(m.get("role"))) {
      throw new Invalid(
          "the last message of \""
              + what
              + "\" must have role \"assistant\", got \""
              + m.get("role")
              + "\"");
    }
    return (String) m.get("content");
  }

  private static String assistantContent(JsonNode c, String what) throws Invalid {
    if (!c.isArray() || c.size() != 1 || !c.get(0).isObject()) {
      throw new Invalid(
          "field \"" + what + "\" must be a string or a list with one assistant" + " message");
    }
    JsonNode m = c.get(0);
    if (!"assistant".equals(m.path("role").asText(null))) {
      throw new Invalid(what + "[0] must have role \"assistant\", got " + m.get("role"));
    }
    JsonNode content = m.get("content");
    if (content == null || !content.isTextual()) {
      throw new Invalid(what + "[0].content must be a string");
    }
    return content.asText();
  }

  private static double number(JsonNode v, String field) throws Invalid {
    if (!v.isNumber()) {
      throw new Invalid("field \"" + field + "\" must be a number, got " + type(v));
    }
    double d = v.asDouble();
    if (!Double.isFinite(d)) {
      // JSON has no NaN or Infinity, but 1e999 parses to Infinity.
      throw new Invalid("field \"" + field + "\" is not a finite number: " + v);
    }
    return d;
  }
}
