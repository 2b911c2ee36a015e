package ai.tilt.data;

import static ai.tilt.data.JsonFields.messageList;
import static ai.tilt.data.JsonFields.present;
import static ai.tilt.data.JsonFields.required;
import static ai.tilt.data.JsonFields.type;

import ai.tilt.data.JsonFields.Invalid;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * A supervised fine-tuning data set: JSON Lines in TRL's formats, tokenised into {@link
 * SftExample}s with the tokens to train on marked.
 *
 * <p>Formats (one per line; other keys are ignored):
 *
 * <ul>
 *   <li>{@code {"prompt": text, "completion": text}}: the prompt is encoded by {@link
 *       TextTokenizer#encodePrompt} (BOS once if the tokenizer uses one, never twice), the
 *       completion without special tokens, and the tokenizer's first EOS is appended (see below).
 *       Targets: the completion and its EOS.
 *   <li>{@code {"prompt": [messages], "completion": [one assistant message] or text}}: the prompt
 *       is rendered by the chat template with a generation prompt, the whole conversation without
 *       one; the prompt's ids must be a prefix of the conversation's, and the rest (assistant text
 *       plus whatever end-of-turn tokens the template writes) are the targets.
 *   <li>{@code {"messages": [...]}}: loss on assistant turns only. For assistant message i, the
 *       targets are the tokens that rendering {@code messages[:i+1]} adds to rendering {@code
 *       messages[:i]} with a generation prompt; both must be prefixes of the rendered conversation
 *       (up to its last assistant turn), or the line is rejected as not prefix-stable (Qwen3's
 *       template, for one, drops the think block of earlier assistant turns, so multi-turn Qwen3
 *       chats are rejected rather than trained on wrong tokens).
 *   <li>{@code {"prompt_ids": [ids], "completion_ids": [ids]}}: pre-tokenised, taken as they are
 *       (no BOS or EOS added: write the EOS into the completion if the model should learn to stop);
 *       the one format a model without tokenizer files can train on (the paper lab's bandits).
 *       Targets: the completion ids.
 *   <li>{@code {"text": text}}: language modelling: encoded as a text prompt (BOS as above) with
 *       EOS appended as for completions; every token after the first is a target.
 * </ul>
 *
 * <p>EOS rule: for text completions and {@code text}, when {@link DataOptions#appendEos()} is on,
 * the tokenizer's first EOS id is appended unless the tokens already end with one of its EOS ids
 * (so it is never doubled). Chat formats get no extra EOS: the template's end-of-turn tokens are
 * the stop signal. Targets are recorded from where tokens came from, so an EOS equal to the pad id
 * stays a target.
 *
 * <p>Truncation rule. The prompt is everything before the first target (for {@code messages}:
 * before the first assistant reply; for {@code text}: the first token). (1) If the prompt is longer
 * than {@code maxPromptLength} (when set), it keeps its last tokens, those nearest the completion,
 * but a leading BOS is kept in front: the cut prompt is BOS + the last {@code maxPromptLength - 1}
 * tokens, or the last {@code maxPromptLength} tokens without BOS. (2) If the prompt still has
 * {@code maxLength} tokens or more, no target fits and the line is invalid. (3) Otherwise the
 * sequence is cut to its first {@code maxLength} tokens, dropping the end of the completion, its
 * EOS included: a cut completion did not end, so it is not taught to stop there. Examples cut by
 * (1) or (3) are counted as truncated.
 *
 * <p>Bad lines (invalid JSON or UTF-8, not an object, missing or mistyped fields, empty completion,
 * no assistant turn, template errors, no target left) fail the load with a {@link DataException}
 * reading {@code file:line: reason}, or with {@link DataOptions#skipInvalid()} are skipped and
 * counted (the first reasons are kept in {@link Stats}). A file with no usable example is an error
 * either way.
 */
public final class SftDataset {
  private static final int KEPT_REASONS = 5;

  /**
   * Counts over one load.
   *
   * @param lines non-blank lines read
   * @param used examples kept
   * @param skipped bad lines skipped (only with skipInvalid)
   * @param truncated kept examples that were cut
   * @param totalTokens tokens over kept examples
   * @param targetTokens target tokens over kept examples
   * @param skipReasons the first few skipped lines' {@code file:line: reason} messages
   */
  public record Stats(
      int lines,
      int used,
      int skipped,
      int truncated,
      long totalTokens,
      long targetTokens,
      List<String> skipReasons) {
    /** One line for logs. */
    public String summary() {
      String s =
          lines
              + " lines: "
              + used
              + " used, "
              + skipped
              + " skipped, "
              + truncated
              + " truncated; "
              + totalTokens
              + " tokens, "
              + targetTokens
              + " targets";
      return skipReasons.isEmpty() ? s : s + "; first skipped: " + skipReasons.get(0);
    }
  }

  private final List<SftExample> examples;
  private final Stats stats;

  private SftDataset(List<SftExample> examples, Stats stats) {
    this.examples = examples;
    this.stats = stats;
  }

  /**
   * Reads and tokenises a JSONL file (see the class comment for formats and rules).
   *
   * @throws DataException naming {@code file:line} for a bad line (unless skipped), or the file
   *     when it is missing or has no usable example
   * @throws IOException when the file cannot be read
   */
  public static SftDataset load(Path file, TextTokenizer tokenizer, DataOptions options)
      throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new DataException("no such file: " + file);
    }
    Encoder enc = new Encoder(tokenizer, options);
    List<SftExample> out = new ArrayList<>();
    List<String> reasons = new ArrayList<>();
    int lines = 0;
    int skipped = 0;
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file))) {
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      byte[] raw;
      for (int number = 1; (raw = Jsonl.readRawLine(in, buf)) != null; number++) {
        if (Jsonl.isBlankLine(raw)) {
          continue;
        }
        lines++;
        try {
          out.add(enc.example(raw, number));
        } catch (Invalid e) {
          String message = file + ":" + number + ": " + e.getMessage();
          if (!options.skipInvalid()) {
            throw new DataException(message);
          }
          skipped++;
          if (reasons.size() < KEPT_REASONS) {
            reasons.add(message);
          }
        }
      }
    }
    Stats stats =
        new Stats(
            lines,
            out.size(),
            skipped,
            (int) out.stream().filter(SftExample::truncated).count(),
            out.stream().mapToLong(SftExample::length).sum(),
            out.stream().mapToLong(SftExample::targetCount).sum(),
            Collections.unmodifiableList(reasons));
    if (out.isEmpty()) {
      throw new DataException(file + ": no usable examples (" + stats.summary() + ")");
    }
    return new SftDataset(Collections.unmodifiableList(out), stats);
  }

  /** The examples in file order. */
  public List<SftExample> examples() {
    return examples;
  }

  public Stats stats() {
    return stats;
  }

  /** Turns one line into ids and targets, then applies the truncation rule. */
  private static final class Encoder {
    private final TextTokenizer tok;
    private final DataOptions options;
    private final TextEncoding encoding;

    Encoder(TextTokenizer tok, DataOptions options) {
      this.tok = tok;
      this.options = options;
      this.encoding = tok == null ? null : new TextEncoding(tok, options.appendEos());
    }

    SftExample example(byte[] raw, int line) throws Invalid {
      JsonNode o;
      try {
        // Decoded line by line: a Reader decodes ahead in blocks and would blame the wrong line.
        String text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(raw)).toString();
        o = Jsonl.mapper().readTree(text);
      } catch (CharacterCodingException e) {
        throw new Invalid("not valid UTF-8");
      } catch (JsonProcessingException e) {
        throw new Invalid("invalid JSON: " + e.getOriginalMessage());
      }
      if (o == null || !o.isObject()) {
        throw new Invalid("expected a JSON object");
      }
      boolean lm = present(o, "text");
      boolean chat = present(o, "messages");
      boolean pc = present(o, "prompt") || present(o, "completion");
      boolean pre = present(o, "prompt_ids") || present(o, "completion_ids");
      if ((lm ? 1 : 0) + (chat ? 1 : 0) + (pc ? 1 : 0) + (pre ? 1 : 0) != 1) {
        throw new Invalid(
            "a line needs exactly one of \"text\", \"prompt\" + \"completion\","
                + " \"messages\" or \"prompt_ids\" + \"completion_ids\""
                + (lm || chat || pc || pre ? " (found several)" : ""));
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
      long[] ids = concat(prompt, completion);
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
        long[] ids = concat(prompt, encoding.withEos(completion));
        return new long[][] {ids, {prompt.length, ids.length}};
      }
      if (!p.isArray()) {
        throw new Invalid(
            "field \"prompt\" must be a string or a list of messages, got " + type(p));
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
      if (!startsWith(all, head) || all.length == head.length) {
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
        if (!startsWith(after, before) || !startsWith(seq, after)) {
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
        ids = concat(Arrays.copyOf(ids, head), Arrays.copyOfRange(ids, head + drop, ids.length));
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

  static boolean startsWith(long[] ids, long[] prefix) {
    return ids.length >= prefix.length
        && Arrays.equals(ids, 0, prefix.length, prefix, 0, prefix.length);
  }

  static long[] concat(long[] a, long[] b) {
    long[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
