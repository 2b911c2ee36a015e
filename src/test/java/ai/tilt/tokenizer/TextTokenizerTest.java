package ai.tilt.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.tokenizer.chat.ChatTemplate;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Special-token resolution, error messages, BOS handling and no truncation. */
class TextTokenizerTest {
  @TempDir Path tmp;

  private Path bpeDir(String tokenizerConfig, String... files) throws IOException {
    Path d = Files.createTempDirectory(tmp, "tok");
    ByteLevelBpe.write(d);
    if (tokenizerConfig != null) {
      Files.writeString(d.resolve("tokenizer_config.json"), tokenizerConfig);
    } else {
      Files.delete(d.resolve("tokenizer_config.json"));
    }
    for (int i = 0; i < files.length; i += 2) {
      Files.writeString(d.resolve(files[i]), files[i + 1]);
    }
    return d;
  }

  @Test
  void gpt2SpecialTokens() {
    TextTokenizer t = TokenizerFixtures.tokenizer("gpt2");
    assertEquals(50257, t.vocabSize());
    assertEquals(50256L, t.bosId());
    assertArrayEquals(new long[] {50256}, t.eosIds());
    assertNull(t.padId());
    assertFalse(t.addsBos(), "GPT-2's ByteLevel post-processor adds nothing");
    assertEquals(OptionalLong.of(50256), t.tokenId("<|endoftext|>"));
    assertEquals(OptionalLong.of(995), t.tokenId("Ġworld"));
    assertTrue(t.tokenId("definitely not a token").isEmpty());
    assertTrue(t.isSpecial(50256));
    assertFalse(t.hasChatTemplate());
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> t.applyChatTemplate(List.of(Map.of("role", "user", "content", "x")), true, null));
    assertTrue(e.getMessage().contains("no chat template"), e.getMessage());
  }

  @Test
  void qwen3SpecialTokens() {
    TextTokenizer t = TokenizerFixtures.tokenizer("qwen3");
    assertEquals(151669, t.vocabSize());
    assertNull(t.bosId(), "Qwen has no BOS token");
    assertArrayEquals(new long[] {151645}, t.eosIds(), "<|im_end|>");
    assertEquals(151643L, t.padId(), "<|endoftext|>");
    assertEquals(OptionalLong.of(151644), t.tokenId("<|im_start|>"));
    assertTrue(t.isSpecial(151644));
    assertFalse(t.isSpecial(151667), "<think> is an added but non-special token");
    assertTrue(t.hasChatTemplate());
  }

  @Test
  void qwen3GenerationConfigEosListAndConfigBos() throws IOException {
    Path d = Files.createDirectories(tmp.resolve("qwen3"));
    Path src = TokenizerFixtures.dir("qwen3");
    Files.copy(src.resolve("tokenizer.json"), d.resolve("tokenizer.json"));
    Files.copy(src.resolve("tokenizer_config.json"), d.resolve("tokenizer_config.json"));
    Files.writeString(
        d.resolve("generation_config.json"),
        "{\"bos_token_id\": 151643, \"eos_token_id\": [151645, 151643], \"do_sample\": true}");
    Files.writeString(d.resolve("config.json"), "{\"bos_token_id\": 1, \"eos_token_id\": 2}");
    try (TextTokenizer t = TextTokenizer.load(d)) {
      assertArrayEquals(new long[] {151645, 151643}, t.eosIds());
      assertEquals(151643L, t.bosId(), "generation_config wins over config.json");
      assertFalse(t.addsBos());
      assertArrayEquals(
          t.encode("Hi", false),
          t.encodePrompt("Hi"),
          "a BOS known only from configs is not added to prompts");
    }
  }

  @Test
  void addedTokenObjectsGenerationConfigAndPostProcessorFallback() throws IOException {
    Path d =
        bpeDir(
            "{\"eos_token\": {\"content\": \"<|eos|>\", \"__type\": \"AddedToken\"}}",
            "generation_config.json",
            "{\"eos_token_id\": [511, 510], \"pad_token_id\": 511}");
    try (TextTokenizer t = TextTokenizer.load(d)) {
      assertArrayEquals(new long[] {510, 511}, t.eosIds(), "tokenizer EOS first, no duplicates");
      assertEquals(511L, t.padId());
      assertEquals(509L, t.bosId(), "from the TemplateProcessing post-processor");
      assertTrue(t.addsBos());
    }
  }

  @Test
  void specialTokensMapOverridesTokenizerConfig() throws IOException {
    Path d =
        bpeDir(
            "{\"eos_token\": \"<|pad|>\", \"pad_token\": \"<|pad|>\"}",
            "special_tokens_map.json",
            "{\"eos_token\": {\"content\": \"<|eos|>\"}}");
    try (TextTokenizer t = TextTokenizer.load(d)) {
      assertArrayEquals(new long[] {510}, t.eosIds());
      assertEquals(511L, t.padId());
    }
  }

  @Test
  void configJsonIdsWhenNoTokenizerConfig() throws IOException {
    Path d =
        bpeDir(
            null,
            "config.json",
            "{\"bos_token_id\": 510, \"eos_token_id\": 511, \"pad_token_id\": null}");
    try (TextTokenizer t = TextTokenizer.load(d)) {
      assertEquals(510L, t.bosId());
      assertArrayEquals(new long[] {511}, t.eosIds());
      assertNull(t.padId());
      assertFalse(t.addsBos(), "the post-processor adds 509, not the configured 510");
    }
  }

  @Test
  void bareTokenizerJsonFallsBackToWellKnownNames() throws IOException {
    Path d = bpeDir(null);
    try (TextTokenizer t = TextTokenizer.load(d.resolve("tokenizer.json"))) {
      assertEquals(509L, t.bosId());
      assertArrayEquals(new long[] {510}, t.eosIds());
      assertNull(t.padId());
      assertFalse(t.hasChatTemplate());
    }
  }

  @Test
  void clearErrors() throws IOException {
    Path empty = Files.createDirectories(tmp.resolve("empty"));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> TextTokenizer.load(empty));
    assertTrue(
        e.getMessage().contains("tokenizer.json") && e.getMessage().contains("empty"),
        e.getMessage());

    Path broken = Files.createDirectories(tmp.resolve("broken"));
    Files.writeString(broken.resolve("tokenizer.json"), "{\"model\": {\"vocab\": ");
    e = assertThrows(IllegalArgumentException.class, () -> TextTokenizer.load(broken));
    assertTrue(e.getMessage().contains("tokenizer.json: invalid JSON"), e.getMessage());

    Path notTok = Files.createDirectories(tmp.resolve("nottok"));
    Files.writeString(notTok.resolve("tokenizer.json"), "{\"model\": {\"vocab\": {\"a\": 0}}}");
    e = assertThrows(IllegalArgumentException.class, () -> TextTokenizer.load(notTok));
    assertTrue(e.getMessage().contains("rejected by the tokenizers library"), e.getMessage());

    Path unknown = bpeDir("{\"eos_token\": \"</s>\"}");
    e = assertThrows(IllegalArgumentException.class, () -> TextTokenizer.load(unknown));
    assertTrue(
        e.getMessage().contains("tokenizer_config.json: eos_token \"</s>\""), e.getMessage());

    Path badGen = bpeDir("{}", "generation_config.json", "{\"eos_token_id\": \"x\"}");
    e = assertThrows(IllegalArgumentException.class, () -> TextTokenizer.load(badGen));
    assertTrue(e.getMessage().contains("generation_config.json: eos_token_id"), e.getMessage());

    Path badCfg = bpeDir("{\"eos_token\": ");
    e = assertThrows(IllegalArgumentException.class, () -> TextTokenizer.load(badCfg));
    assertTrue(e.getMessage().contains("tokenizer_config.json: invalid JSON"), e.getMessage());
  }

  @Test
  void longTextIsNotTruncated() {
    TextTokenizer t = TokenizerFixtures.tokenizer("gpt2");
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 600; i++) {
      sb.append("Sentence number ").append(i).append(" is here. ");
    }
    String text = sb.toString();
    long[] ids = t.encode(text, true);
    assertTrue(ids.length > 3000, "got " + ids.length + " tokens; DJL's default cuts at 512");
    assertEquals(text, t.decode(ids, false));
  }

  @Test
  void neverDoubleBos() throws IOException {
    try (TextTokenizer t = TextTokenizer.load(bpeDir(null))) {
      long[] plain = t.encodePrompt("Hello there");
      assertEquals(509L, plain[0]);
      assertNotEquals(509L, plain[1]);
      assertArrayEquals(t.encode("Hello there", true), plain);

      long[] already = t.encodePrompt("<|bos|>Hello there");
      assertArrayEquals(plain, already, "a BOS written in the text is kept, not doubled");

      long[] empty = t.encodePrompt("");
      assertArrayEquals(new long[] {509}, empty);
    }
    Path withTemplate = Files.createTempDirectory(tmp, "chat");
    ByteLevelBpe.write(withTemplate);
    try (TextTokenizer t = TextTokenizer.load(withTemplate)) {
      List<Map<String, String>> chat = List.of(Map.of("role", "user", "content", "Hi"));
      String rendered = t.applyChatTemplate(chat, true, null);
      assertTrue(rendered.startsWith("<|bos|>"));
      long[] naive = t.encode(rendered, true);
      assertEquals(509L, naive[1], "the problem being avoided: template BOS + post-processor BOS");
      long[] ids = t.encodeChat(chat, true, null);
      assertEquals(509L, ids[0]);
      assertNotEquals(509L, ids[1]);
      assertArrayEquals(t.encode(rendered, false), ids);
    }
  }

  @Test
  void chatTemplateSources() throws IOException {
    Path named =
        bpeDir(
            "{\"chat_template\": [{\"name\": \"tool_use\", \"template\": \"T\"},"
                + " {\"name\": \"default\","
                + " \"template\": \"D{{ add_generation_prompt }}{{ eos_token }}\"}],"
                + " \"eos_token\": \"<|eos|>\"}");
    try (TextTokenizer t = TextTokenizer.load(named)) {
      assertEquals("DTrue<|eos|>", t.applyChatTemplate(List.of(), true, null));
    }
    Path file =
        bpeDir(
            "{\"chat_template\": \"ignored\"}",
            "chat_template.jinja",
            "J{{ messages|length }}{{ bos_token is defined }}\n");
    try (TextTokenizer t = TextTokenizer.load(file)) {
      assertEquals("J1False", t.applyChatTemplate(List.of(Map.of("role", "user")), false, null));
    }
    Path bad = bpeDir("{\"chat_template\": \"{% if x %}never closed\"}");
    try (TextTokenizer t = TextTokenizer.load(bad)) {
      ChatTemplate.TemplateException e =
          assertThrows(
              ChatTemplate.TemplateException.class,
              () -> t.applyChatTemplate(List.of(), false, null));
      assertTrue(
          e.getMessage()
              .contains("tokenizer_config.json (chat_template): chat template" + " line 1"),
          e.getMessage());
    }
  }

  @Test
  void cleanUpTokenizationSpacesOnlyWhenConfigured() throws IOException {
    String text = "Hello , world ! I 'm here .";
    try (TextTokenizer t = TextTokenizer.load(bpeDir("{\"clean_up_tokenization_spaces\": true}"))) {
      assertEquals("Hello, world! I'm here.", t.decode(t.encode(text, false), false));
    }
    try (TextTokenizer t = TextTokenizer.load(bpeDir("{}"))) {
      assertEquals(text, t.decode(t.encode(text, false), false));
    }
  }
}
