package ai.tilt.data;

import ai.tilt.data.JsonFields.Invalid;
import ai.tilt.tokenizer.TextTokenizer;
import ai.tilt.tokenizer.chat.ChatTemplate;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * How text becomes token ids, one rule for SFT, preference and prompt data alike:
 *
 * <ul>
 *   <li>a text prompt is encoded with BOS at most once ({@link TextTokenizer#encodePrompt});
 *   <li>a chat is rendered by the model's chat template (with a generation prompt when it is a
 *       prompt) and encoded the same way;
 *   <li>a text completion or response gets the tokenizer's first EOS appended once when {@code
 *       data.append_eos} is on (never doubled: nothing is added when any EOS id already ends it); a
 *       chat turn ends with the template's own end-of-turn tokens instead.
 * </ul>
 *
 * A tokenizer without EOS under {@code data.append_eos: true} fails the whole file, naming the key
 * (a property of the tokenizer, not of a line, so never skipped).
 */
final class TextEncoding {
  private final TextTokenizer tok;
  private final boolean appendEos;

  TextEncoding(TextTokenizer tok, boolean appendEos) {
    this.tok = tok;
    this.appendEos = appendEos;
  }

  /** A text prompt: BOS at most once. */
  long[] prompt(String text) {
    return tok.encodePrompt(text);
  }

  /** A text completion or response, without special tokens, then the EOS rule. */
  long[] completion(String text) {
    return withEos(tok.encode(text, false));
  }

  /** The EOS rule on ids already encoded: the first EOS once, unless any EOS id ends them. */
  long[] withEos(long[] ids) {
    if (!appendEos) {
      return ids;
    }
    long[] eos = tok.eosIds();
    if (eos.length == 0) {
      throw new DataException(
          "the tokenizer in "
              + tok.directory()
              + " has no EOS token to append to text completions (data.append_eos is true): set"
              + " data.append_eos: false, or add eos_token to its tokenizer_config.json");
    }
    long last = ids.length == 0 ? Long.MIN_VALUE : ids[ids.length - 1];
    if (Arrays.stream(eos).anyMatch(e -> e == last)) {
      return ids;
    }
    long[] out = Arrays.copyOf(ids, ids.length + 1);
    out[ids.length] = eos[0];
    return out;
  }

  /** A conversation rendered by the chat template and encoded with BOS at most once. */
  long[] chat(List<Map<String, Object>> messages, boolean generationPrompt) throws Invalid {
    return prompt(render(messages, generationPrompt));
  }

  /** A conversation as the chat template renders it (what a reward reads as the prompt's text). */
  String render(List<Map<String, Object>> messages, boolean generationPrompt) throws Invalid {
    if (!tok.hasChatTemplate()) {
      throw new Invalid(
          "chat line, but the tokenizer in " + tok.directory() + " has no chat template");
    }
    try {
      return tok.applyChatTemplate(messages, generationPrompt, null);
    } catch (ChatTemplate.TemplateException e) {
      throw new Invalid("chat template: " + e.getMessage());
    }
  }

  /** Whether EOS is appended to text completions ({@code data.append_eos}). */
  boolean appendsEos() {
    return appendEos;
  }
}
