package ai.tilt.tokenizer;

import ai.tilt.tokenizer.chat.ChatTemplate;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads the JSON files of a HuggingFace tokenizer directory: {@code tokenizer.json} (vocabulary,
 * added tokens), {@code tokenizer_config.json} / {@code special_tokens_map.json} (special-token
 * strings, chat template, decode clean-up) and {@code generation_config.json} / {@code config.json}
 * (special-token ids). DJL's tokenizer binding exposes none of this.
 */
final class TokenizerFiles {
  static final String TOKENIZER_JSON = "tokenizer.json";
  static final String TOKENIZER_CONFIG = "tokenizer_config.json";
  static final String SPECIAL_TOKENS_MAP = "special_tokens_map.json";
  static final String GENERATION_CONFIG = "generation_config.json";
  static final String CONFIG = "config.json";
  static final String CHAT_TEMPLATE_FILE = "chat_template.jinja";
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Only used when no config file names an EOS token (bare tokenizer.json directories). */
  private static final List<String> WELL_KNOWN_EOS =
      List.of(
          "<|endoftext|>",
          "</s>",
          "<|eos|>",
          "<eos>",
          "<|end_of_text|>",
          "<|im_end|>",
          "<|eot_id|>");

  final Path dir;
  // Handed to DJL once, then dropped (it is 11 MB for Qwen-sized vocabularies).
  private byte[] tokenizerJson;
  final Map<String, Long> vocab = new HashMap<>();
  final Set<Long> specialIds = new HashSet<>();
  final List<String> specialContents = new ArrayList<>();
  final int vocabSize;

  /** bos_token, eos_token, pad_token, unk_token (+ additional_special_tokens) for templates. */
  final Map<String, Object> tokenStrings = new LinkedHashMap<>();

  final String chatTemplate;
  final String chatTemplateOrigin;
  final boolean cleanUpSpaces;
  private final Long jsonPadId;
  private final JsonNode tokenizerConfig;
  private final JsonNode specialTokensMap;
  private final JsonNode generationConfig;
  private final JsonNode config;

  TokenizerFiles(Path dir) {
    this.dir = dir;
    Path tj = dir.resolve(TOKENIZER_JSON);
    if (!Files.isRegularFile(tj)) {
      throw new IllegalArgumentException(
          "no "
              + TOKENIZER_JSON
              + " in "
              + dir
              + " (a HuggingFace fast-tokenizer file is required)");
    }
    try {
      tokenizerJson = Files.readAllBytes(tj);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + tj, e);
    }
    JsonNode root = parse(tj, new String(tokenizerJson, StandardCharsets.UTF_8));
    long maxId = readVocab(tj, root);
    vocabSize = Math.toIntExact(maxId + 1);
    JsonNode padding = root.path("padding").path("pad_id");
    jsonPadId = padding.isIntegralNumber() ? padding.asLong() : null;
    tokenizerConfig = optional(TOKENIZER_CONFIG);
    specialTokensMap = optional(SPECIAL_TOKENS_MAP);
    generationConfig = optional(GENERATION_CONFIG);
    config = optional(CONFIG);
    for (String key : List.of("bos_token", "eos_token", "pad_token", "unk_token")) {
      String s = tokenString(key);
      if (s != null) {
        tokenStrings.put(key, s);
      }
    }
    JsonNode extra =
        specialTokensMap.has("additional_special_tokens")
            ? specialTokensMap.get("additional_special_tokens")
            : tokenizerConfig.path("additional_special_tokens");
    if (extra.isArray()) {
      List<Object> list = new ArrayList<>();
      extra.forEach(t -> list.add(content(t)));
      tokenStrings.put("additional_special_tokens", list);
    }
    Path jinja = dir.resolve(CHAT_TEMPLATE_FILE);
    try {
      // transformers >= 4.47 saves the template as chat_template.jinja, which then wins.
      if (Files.isRegularFile(jinja)) {
        chatTemplate = Files.readString(jinja);
        chatTemplateOrigin = jinja.toString();
      } else {
        chatTemplateOrigin = dir.resolve(TOKENIZER_CONFIG) + " (chat_template)";
        chatTemplate =
            ChatTemplate.select(
                tokenizerConfig.get("chat_template"), dir.resolve(TOKENIZER_CONFIG).toString());
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + jinja, e);
    }
    cleanUpSpaces = tokenizerConfig.path("clean_up_tokenization_spaces").asBoolean(false);
  }

  /** The raw tokenizer.json bytes; available once. */
  byte[] takeTokenizerJson() {
    byte[] b = tokenizerJson;
    tokenizerJson = null;
    return b;
  }

  private static JsonNode parse(Path file, String text) {
    try {
      JsonNode n = JSON.readTree(text);
      if (n == null || !n.isObject()) {
        throw new IllegalArgumentException(file + ": expected a JSON object");
      }
      return n;
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(
          file
              + ": invalid JSON: "
              + e.getOriginalMessage()
              + " (line "
              + e.getLocation().getLineNr()
              + ")",
          e);
    }
  }

  private JsonNode optional(String name) {
    Path p = dir.resolve(name);
    if (!Files.isRegularFile(p)) {
      return MissingNode.getInstance();
    }
    try {
      return parse(p, Files.readString(p));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + p, e);
    }
  }

  /** Fills vocab/specialIds from {@code model.vocab} and {@code added_tokens}; returns max id. */
  private long readVocab(Path file, JsonNode root) {
    JsonNode v = root.path("model").path("vocab");
    long max = -1;
    if (v.isObject()) { // BPE, WordPiece, WordLevel: token -> id
      for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        long id = e.getValue().asLong();
        vocab.put(e.getKey(), id);
        max = Math.max(max, id);
      }
    } else if (v.isArray()) { // Unigram: [[piece, score], ...], id = position
      for (int i = 0; i < v.size(); i++) {
        vocab.put(v.get(i).path(0).asText(), (long) i);
      }
      max = v.size() - 1;
    } else {
      throw new IllegalArgumentException(file + ": missing model.vocab (object or array)");
    }
    for (JsonNode t : root.path("added_tokens")) {
      if (!t.has("id") || !t.has("content")) {
        throw new IllegalArgumentException(file + ": added_tokens entry without id/content: " + t);
      }
      long id = t.get("id").asLong();
      vocab.put(t.get("content").asText(), id); // added tokens take precedence, as in tokenizers
      if (t.path("special").asBoolean(false)) {
        specialIds.add(id);
        specialContents.add(t.get("content").asText());
      }
      max = Math.max(max, id);
    }
    return max;
  }

  /** special_tokens_map.json overrides tokenizer_config.json, as transformers loads them. */
  private String tokenString(String key) {
    JsonNode n = specialTokensMap.get(key);
    if (n == null || n.isNull()) {
      n = tokenizerConfig.get(key);
    }
    return content(n);
  }

  /** A special-token value: a string, or an AddedToken object {@code {"content": ...}}. */
  private static String content(JsonNode n) {
    if (n == null || n.isNull() || n.isMissingNode()) {
      return null;
    }
    return n.isObject() ? n.path("content").asText(null) : n.asText();
  }

  /** The id of a special-token string named by a config file, with a clear error if unknown. */
  private Long idOfString(String key) {
    String s = (String) tokenStrings.get(key);
    if (s == null) {
      return null;
    }
    Long id = vocab.get(s);
    if (id == null) {
      String origin = specialTokensMap.has(key) ? SPECIAL_TOKENS_MAP : TOKENIZER_CONFIG;
      throw new IllegalArgumentException(
          dir.resolve(origin)
              + ": "
              + key
              + " \""
              + s
              + "\" is not a token of "
              + dir.resolve(TOKENIZER_JSON));
    }
    return id;
  }

  /** Ids from an {@code *_token_id} key: an int, a list of ints, or null/absent (empty). */
  private List<Long> configIds(JsonNode cfg, String key, String file) {
    JsonNode n = cfg.path(key);
    List<Long> out = new ArrayList<>();
    if (n.isMissingNode() || n.isNull()) {
      return out;
    }
    for (JsonNode x : n.isArray() ? n : List.of(n)) {
      if (!x.canConvertToLong() || !x.isIntegralNumber() || x.asLong() < 0) {
        throw new IllegalArgumentException(
            dir.resolve(file)
                + ": "
                + key
                + " must be a non-negative integer or a list of them, got "
                + n);
      }
      out.add(x.asLong());
    }
    return out;
  }

  private Long firstConfigId(String key) {
    List<Long> g = configIds(generationConfig, key, GENERATION_CONFIG);
    if (!g.isEmpty()) {
      return g.get(0);
    }
    List<Long> c = configIds(config, key, CONFIG);
    return c.isEmpty() ? null : c.get(0);
  }

  /**
   * BOS: the tokenizer's {@code bos_token}; else generation_config / config {@code bos_token_id};
   * else the special token the post-processor puts in front ({@code postProcessorFirst}).
   */
  Long bosId(Long postProcessorFirst) {
    Long id = idOfString("bos_token");
    if (id == null) {
      id = firstConfigId("bos_token_id");
    }
    return id != null ? id : postProcessorFirst;
  }

  /**
   * EOS ids: the tokenizer's {@code eos_token} first (what training appends to completions), then
   * generation_config's {@code eos_token_id} list (what transformers' generate stops on), or
   * config.json's when there is no generation_config value; a well-known name as last resort.
   */
  long[] eosIds() {
    Set<Long> ids = new LinkedHashSet<>();
    Long tok = idOfString("eos_token");
    if (tok != null) {
      ids.add(tok);
    }
    List<Long> gen = configIds(generationConfig, "eos_token_id", GENERATION_CONFIG);
    ids.addAll(gen.isEmpty() ? configIds(config, "eos_token_id", CONFIG) : gen);
    if (ids.isEmpty()) {
      for (String name : WELL_KNOWN_EOS) {
        Long id = vocab.get(name);
        if (id != null && specialIds.contains(id)) {
          ids.add(id);
          break;
        }
      }
    }
    return ids.stream().mapToLong(Long::longValue).toArray();
  }

  /**
   * PAD: the tokenizer's {@code pad_token}, else generation_config / config {@code pad_token_id},
   * else tokenizer.json's {@code padding.pad_id}.
   */
  Long padId() {
    Long id = idOfString("pad_token");
    if (id == null) {
      id = firstConfigId("pad_token_id");
    }
    return id != null ? id : jsonPadId;
  }
}
