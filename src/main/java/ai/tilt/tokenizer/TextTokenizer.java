package ai.tilt.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.tilt.tokenizer.chat.ChatTemplate;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * A HuggingFace fast tokenizer ({@code tokenizer.json}, run by the Rust {@code tokenizers} library
 * through DJL) plus what transformers reads around it: special tokens and the chat template.
 *
 * <p>DJL's truncation (512 tokens by default) and padding are switched off: Tilt pads and truncates
 * in Java. DJL is given only the tokenizer.json bytes, not the directory, so DJL's own reading of
 * tokenizer_config.json (add_prefix_space done by prepending a space in Java, stripAccents,
 * lowercasing) never diverges from the Rust pipeline in tokenizer.json.
 *
 * <p>Special ids, in order of precedence (see {@link TokenizerFiles}):
 *
 * <ul>
 *   <li>{@link #bosId()}: {@code bos_token} of special_tokens_map.json / tokenizer_config.json;
 *       else {@code bos_token_id} of generation_config.json, then config.json; else the special
 *       token tokenizer.json's post-processor puts first. Null when none applies (Qwen, GPT-2 with
 *       no configs).
 *   <li>{@link #eosIds()}: the tokenizer's {@code eos_token} first (appended to completions in
 *       training), then every {@code eos_token_id} of generation_config.json (an int or a list:
 *       what transformers' {@code generate} stops on), or of config.json when generation_config has
 *       none; a well-known special token ({@code <|endoftext|>}, {@code </s>}, ...) only when no
 *       file names one.
 *   <li>{@link #padId()}: {@code pad_token}; else {@code pad_token_id} of generation_config.json,
 *       then config.json; else tokenizer.json's {@code padding.pad_id}; else null (callers usually
 *       fall back to the first EOS).
 * </ul>
 *
 * <p>Thread-safe for encoding and decoding. Close it to free the native tokenizer.
 */
public final class TextTokenizer implements AutoCloseable {
  private final TokenizerFiles files;
  private final HuggingFaceTokenizer hf;
  private final Long bos;
  private final long[] eos;
  private final Long pad;
  private final boolean addsBos;
  private volatile ChatTemplate template;

  private TextTokenizer(TokenizerFiles files, HuggingFaceTokenizer hf) {
    this.files = files;
    this.hf = hf;
    long[] bare = encode("", true);
    Long first = bare.length > 0 && files.specialIds.contains(bare[0]) ? bare[0] : null;
    this.bos = files.bosId(first);
    this.eos = files.eosIds();
    this.pad = files.padId();
    this.addsBos = bos != null && bare.length > 0 && bare[0] == bos;
  }

  /**
   * Loads the tokenizer of a model directory (or a path to its tokenizer.json).
   *
   * @throws IllegalArgumentException naming the file when tokenizer.json is missing or invalid, or
   *     a config names a special token that is not in the vocabulary
   */
  public static TextTokenizer load(Path dir) {
    if (Files.isRegularFile(dir) && dir.getFileName().toString().equals("tokenizer.json")) {
      dir = dir.toAbsolutePath().getParent();
    }
    // The tokenizer jar bundles its native library; offline mode also stops DJL's call-home.
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
    TokenizerFiles files = new TokenizerFiles(dir);
    HuggingFaceTokenizer hf;
    try {
      hf =
          HuggingFaceTokenizer.newInstance(
              new ByteArrayInputStream(files.takeTokenizerJson()),
              Map.of("truncation", "false", "padding", "false", "addSpecialTokens", "true"));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + dir.resolve("tokenizer.json"), e);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException(
          dir.resolve("tokenizer.json") + ": rejected by the tokenizers library: " + e.getMessage(),
          e);
    }
    try {
      return new TextTokenizer(files, hf);
    } catch (RuntimeException e) {
      hf.close();
      throw e;
    }
  }

  /** The tokenizer of a model directory, or null when it has no tokenizer.json (id-only models). */
  public static TextTokenizer loadIfPresent(Path dir) {
    return Files.exists(dir.resolve("tokenizer.json")) ? load(dir) : null;
  }

  /** The directory the tokenizer was loaded from. */
  public Path directory() {
    return files.dir;
  }

  /**
   * Token ids of a text, never truncated. With {@code addSpecialTokens} the tokenizer's
   * post-processor adds its tokens (e.g. Llama's BOS; nothing for GPT-2/Qwen). Special-token
   * strings written in the text (e.g. {@code "<|im_end|>"}) are matched as those tokens either way,
   * as in transformers.
   */
  public long[] encode(String text, boolean addSpecialTokens) {
    return hf.encode(text, addSpecialTokens, false).getIds();
  }

  /**
   * Text of token ids; {@code skipSpecialTokens} drops added tokens marked special. Applies
   * transformers' clean-up of spaces before punctuation only when tokenizer_config.json sets {@code
   * clean_up_tokenization_spaces: true}.
   */
  public String decode(long[] ids, boolean skipSpecialTokens) {
    String s = hf.decode(ids, skipSpecialTokens);
    return files.cleanUpSpaces ? cleanUp(s) : s;
  }

  /**
   * Text of token ids without transformers' clean-up of spaces, whatever the config says: the
   * concatenation of the tokens' own text, as vLLM returns it, so that text decoded a piece at a
   * time (a stream) is the text decoded at once (clean-up rewrites what came before).
   */
  public String decodeRaw(long[] ids, boolean skipSpecialTokens) {
    return hf.decode(ids, skipSpecialTokens);
  }

  private static String cleanUp(String s) {
    return s.replace(" .", ".")
        .replace(" ?", "?")
        .replace(" !", "!")
        .replace(" ,", ",")
        .replace(" ' ", "'")
        .replace(" n't", "n't")
        .replace(" 'm", "'m")
        .replace(" 's", "'s")
        .replace(" 've", "'ve")
        .replace(" 're", "'re");
  }

  /** Max id + 1 over tokenizer.json's model vocabulary and added tokens. */
  public int vocabSize() {
    return files.vocabSize;
  }

  /** The beginning-of-sequence id, or null (see the class comment for where it comes from). */
  public Long bosId() {
    return bos;
  }

  /** End-of-sequence ids: the tokenizer's EOS first, then the other generation stop ids. */
  public long[] eosIds() {
    return eos.clone();
  }

  /** The padding id, or null when no file names one. */
  public Long padId() {
    return pad;
  }

  /** Whether {@code encode(text, true)} puts {@link #bosId()} in front (Llama, Mistral, ...). */
  public boolean addsBos() {
    return addsBos;
  }

  /** The id of a token string (vocabulary entry or added token, as written in tokenizer.json). */
  public OptionalLong tokenId(String token) {
    Long id = files.vocab.get(token);
    return id == null ? OptionalLong.empty() : OptionalLong.of(id);
  }

  /** Whether the id is an added token marked {@code special} (skipped by decode(ids, true)). */
  public boolean isSpecial(long id) {
    return files.specialIds.contains(id);
  }

  /** Whether the directory has a chat template (tokenizer_config.json or chat_template.jinja). */
  public boolean hasChatTemplate() {
    return files.chatTemplate != null;
  }

  /**
   * Renders a conversation with the model's chat template, as transformers' {@code
   * apply_chat_template(messages, tokenize=False, add_generation_prompt=..., **kwargs)}.
   *
   * @param kwargs extra template variables (e.g. {@code enable_thinking}); may be null
   * @throws IllegalStateException if the tokenizer has no chat template
   * @throws ChatTemplate.TemplateException on template errors, including {@code raise_exception}
   */
  public String applyChatTemplate(
      List<? extends Map<String, ?>> messages, boolean addGenerationPrompt, Map<String, ?> kwargs) {
    return chatTemplate().render(messages, addGenerationPrompt, files.tokenStrings, kwargs);
  }

  private ChatTemplate chatTemplate() {
    ChatTemplate t = template;
    if (t == null) {
      if (files.chatTemplate == null) {
        throw new IllegalStateException(
            "no chat template in "
                + files.dir
                + " (neither "
                + TokenizerFiles.TOKENIZER_CONFIG
                + " chat_template nor "
                + TokenizerFiles.CHAT_TEMPLATE_FILE
                + ")");
      }
      try {
        t = ChatTemplate.compile(files.chatTemplate);
      } catch (ChatTemplate.TemplateException e) {
        throw new ChatTemplate.TemplateException(
            files.chatTemplateOrigin + ": " + e.getMessage(), false);
      }
      template = t;
    }
    return t;
  }

  /**
   * Ids of a prompt: a rendered chat (which carries its own special tokens) or plain text. Encodes
   * without adding special tokens again, then puts BOS in front only if this tokenizer normally
   * adds one ({@link #addsBos()}) and the text did not already start with it, so there is never a
   * double BOS and never a trailing EOS from the post-processor.
   */
  public long[] encodePrompt(String text) {
    long[] ids = encode(text, false);
    if (!addsBos || (ids.length > 0 && ids[0] == bos)) {
      return ids;
    }
    long[] out = new long[ids.length + 1];
    out[0] = bos;
    System.arraycopy(ids, 0, out, 1, ids.length);
    return out;
  }

  /** {@link #applyChatTemplate} followed by {@link #encodePrompt}. */
  public long[] encodeChat(
      List<? extends Map<String, ?>> messages, boolean addGenerationPrompt, Map<String, ?> kwargs) {
    return encodePrompt(applyChatTemplate(messages, addGenerationPrompt, kwargs));
  }

  @Override
  public void close() {
    hf.close();
  }

  @Override
  public String toString() {
    return "TextTokenizer["
        + files.dir
        + ", vocab="
        + vocabSize()
        + ", bos="
        + bos
        + ", eos="
        + Arrays.toString(eos)
        + ", pad="
        + pad
        + "]";
  }
}
