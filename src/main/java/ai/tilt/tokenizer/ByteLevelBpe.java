package ai.tilt.tokenizer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes a small byte-level BPE tokenizer for a freshly initialised model: 256 byte tokens (GPT-2's
 * byte-to-unicode alphabet, id = byte value), 253 merges learned deterministically from a built-in
 * English text, then the special tokens {@code <|bos|>}, {@code <|eos|>}, {@code <|pad|>}: 512 ids
 * in all. Every UTF-8 string encodes and decodes back exactly (no normalizer, no unknown token).
 *
 * <p>Chat format (the template in tokenizer_config.json): {@code <|bos|>} once, then per message
 * {@code <|role|>\n} + content + {@code <|eos|>\n} for roles system/user/assistant, and {@code
 * <|assistant|>\n} as the generation prompt. The role markers are ordinary text, so the vocabulary
 * stays at 512.
 */
public final class ByteLevelBpe {
  public static final String BOS = "<|bos|>";
  public static final String EOS = "<|eos|>";
  public static final String PAD = "<|pad|>";
  public static final int VOCAB_SIZE = 512;
  private static final int MERGES = VOCAB_SIZE - 256 - 3;
  // GPT-2's pre-tokenizer split (tokenizers' ByteLevel use_regex=true).
  private static final Pattern SPLIT =
      Pattern.compile(
          "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");
  static final String CHAT_TEMPLATE =
      "{{ bos_token }}"
          + "{% for message in messages %}"
          + "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
          + "{{ raise_exception('Unsupported role: ' ~ message['role']"
          + " ~ ' (expected system, user or assistant)') }}"
          + "{% endif %}"
          + "{{ '<|' + message['role'] + '|>\\n' + message['content'] + eos_token + '\\n' }}"
          + "{% endfor %}"
          + "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}";

  /** What {@link #write} produced: the ids a model's config.json must agree with. */
  public record Spec(int vocabSize, long bosId, long eosId, long padId, int modelMaxLength) {}

  private ByteLevelBpe() {}

  /** Writes tokenizer.json and tokenizer_config.json with model_max_length 2048. */
  public static Spec write(Path dir) {
    return write(dir, 2048);
  }

  /**
   * Writes {@code tokenizer.json} and {@code tokenizer_config.json} into {@code dir} (created if
   * needed; existing files are replaced).
   */
  public static Spec write(Path dir, int modelMaxLength) {
    String[] byteToChar = byteAlphabet();
    Map<String, Integer> vocab = new LinkedHashMap<>();
    for (int b = 0; b < 256; b++) {
      vocab.put(byteToChar[b], b);
    }
    List<String[]> merges = learnMerges(byteToChar, vocab);
    int bos = vocab.size();
    Spec spec = new Spec(bos + 3, bos, bos + 1, bos + 2, modelMaxLength);
    ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    ObjectNode tj = om.createObjectNode();
    tj.put("version", "1.0");
    tj.putNull("truncation");
    tj.putNull("padding");
    ArrayNode added = tj.putArray("added_tokens");
    String[] specials = {BOS, EOS, PAD};
    for (int i = 0; i < 3; i++) {
      added.add(addedToken(om, bos + i, specials[i]));
    }
    tj.putNull("normalizer");
    tj.set("pre_tokenizer", byteLevel(om, false));
    ObjectNode post = tj.putObject("post_processor");
    post.put("type", "TemplateProcessing");
    post.set("single", om.valueToTree(List.of(special(BOS), sequence("A", 0))));
    post.set("pair", om.valueToTree(List.of(special(BOS), sequence("A", 0), sequence("B", 1))));
    post.putObject("special_tokens")
        .set(BOS, om.valueToTree(Map.of("id", BOS, "ids", List.of(bos), "tokens", List.of(BOS))));
    tj.set("decoder", byteLevel(om, true));
    ObjectNode model = tj.putObject("model");
    model.put("type", "BPE");
    model.putNull("dropout");
    model.putNull("unk_token");
    model.putNull("continuing_subword_prefix");
    model.putNull("end_of_word_suffix");
    model.put("fuse_unk", false);
    model.put("byte_fallback", false);
    model.put("ignore_merges", false);
    model.set("vocab", om.valueToTree(vocab));
    ArrayNode m = model.putArray("merges");
    merges.forEach(p -> m.add(p[0] + " " + p[1]));

    ObjectNode cfg = om.createObjectNode();
    ObjectNode decoder = cfg.putObject("added_tokens_decoder");
    for (int i = 0; i < 3; i++) {
      ObjectNode t = addedToken(om, bos + i, specials[i]);
      t.remove("id");
      decoder.set(Integer.toString(bos + i), t);
    }
    cfg.put("bos_token", BOS);
    cfg.put("eos_token", EOS);
    cfg.put("pad_token", PAD);
    cfg.put("clean_up_tokenization_spaces", false);
    cfg.put("model_max_length", modelMaxLength);
    cfg.put("tokenizer_class", "PreTrainedTokenizerFast");
    cfg.put("chat_template", CHAT_TEMPLATE);
    try {
      Files.createDirectories(dir);
      om.writeValue(dir.resolve(TokenizerFiles.TOKENIZER_JSON).toFile(), tj);
      om.writeValue(dir.resolve(TokenizerFiles.TOKENIZER_CONFIG).toFile(), cfg);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write tokenizer files to " + dir, e);
    }
    return spec;
  }

  private static ObjectNode addedToken(ObjectMapper om, int id, String content) {
    ObjectNode t = om.createObjectNode();
    t.put("id", id);
    t.put("content", content);
    t.put("single_word", false);
    t.put("lstrip", false);
    t.put("rstrip", false);
    t.put("normalized", false);
    t.put("special", true);
    return t;
  }

  private static ObjectNode byteLevel(ObjectMapper om, boolean decoder) {
    ObjectNode n = om.createObjectNode();
    n.put("type", "ByteLevel");
    n.put("add_prefix_space", decoder);
    n.put("trim_offsets", true);
    n.put("use_regex", true);
    return n;
  }

  private static Map<String, Object> special(String id) {
    return Map.of("SpecialToken", Map.of("id", id, "type_id", 0));
  }

  private static Map<String, Object> sequence(String id, int typeId) {
    return Map.of("Sequence", Map.of("id", id, "type_id", typeId));
  }

  /** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
  static String[] byteAlphabet() {
    String[] out = new String[256];
    int next = 256;
    for (int b = 0; b < 256; b++) {
      boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      out[b] = new String(Character.toChars(printable ? b : next++));
    }
    return out;
  }

  /**
   * Classic BPE training on the built-in corpus: repeatedly merge the most frequent adjacent pair
   * (ties: lexicographically smallest) until {@value #MERGES} new tokens exist. Adds them to vocab.
   */
  private static List<String[]> learnMerges(String[] byteToChar, Map<String, Integer> vocab) {
    Map<String, Integer> wordCounts = new LinkedHashMap<>();
    Matcher mt = SPLIT.matcher(ByteLevelCorpus.TEXT);
    while (mt.find()) {
      StringBuilder w = new StringBuilder();
      for (byte b : mt.group().getBytes(StandardCharsets.UTF_8)) {
        w.append(byteToChar[b & 0xff]);
      }
      wordCounts.merge(w.toString(), 1, Integer::sum);
    }
    List<List<String>> words = new ArrayList<>();
    List<Integer> counts = new ArrayList<>();
    wordCounts.forEach(
        (w, c) -> {
          List<String> symbols = new ArrayList<>();
          w.codePoints().forEach(cp -> symbols.add(new String(Character.toChars(cp))));
          words.add(symbols);
          counts.add(c);
        });
    List<String[]> merges = new ArrayList<>();
    int added = 0;
    while (added < MERGES) {
      Map<String, Integer> pairs = new HashMap<>();
      for (int i = 0; i < words.size(); i++) {
        List<String> s = words.get(i);
        for (int j = 0; j + 1 < s.size(); j++) {
          pairs.merge(s.get(j) + ' ' + s.get(j + 1), counts.get(i), Integer::sum);
        }
      }
      String best = null;
      for (Map.Entry<String, Integer> e : pairs.entrySet()) {
        if (best == null
            || e.getValue() > pairs.get(best)
            || (e.getValue().equals(pairs.get(best)) && e.getKey().compareTo(best) < 0)) {
          best = e.getKey();
        }
      }
      if (best == null) {
        throw new IllegalStateException("built-in corpus too small for " + MERGES + " merges");
      }
      String[] pair = best.split(" ", 2);
      String merged = pair[0] + pair[1];
      merges.add(pair);
      if (!vocab.containsKey(merged)) {
        vocab.put(merged, vocab.size());
        added++;
      }
      for (List<String> s : words) {
        for (int j = 0; j + 1 < s.size(); j++) {
          if (s.get(j).equals(pair[0]) && s.get(j + 1).equals(pair[1])) {
            s.set(j, merged);
            s.remove(j + 1);
          }
        }
      }
    }
    return merges;
  }
}
