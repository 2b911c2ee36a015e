package ai.tilt.tokenizer.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.tokenizer.TokenizerFixtures;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Template semantics: a corpus rendered by Python Jinja2 in transformers' environment
 * (resources/jinja/cases.jsonl, see generate_cases.py), plus hand-written Llama-3, Zephyr and
 * Mistral style templates with hand-derived expected strings.
 */
class ChatTemplateTest {
  private static final Map<String, String> LLAMA_TOKENS = Map.of("bos_token", "<|begin_of_text|>");
  private static final Map<String, String> MISTRAL_TOKENS =
      Map.of("bos_token", "<s>", "eos_token", "</s>");

  private static Map<String, Object> msg(String role, String content) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("role", role);
    m.put("content", content);
    return m;
  }

  @TestFactory
  Stream<DynamicTest> pythonJinja2Corpus() throws IOException {
    List<JsonNode> lines = new ArrayList<>();
    try (InputStream in = getClass().getResourceAsStream("/jinja/cases.jsonl")) {
      for (String l : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        lines.add(TokenizerFixtures.JSON.readTree(l));
      }
    }
    JsonNode ctxNode = lines.remove(lines.size() - 1);
    assertEquals("_context", ctxNode.get("id").asText());
    Map<String, Object> ctx =
        TokenizerFixtures.JSON.convertValue(
            ctxNode.get("context"), new TypeReference<Map<String, Object>>() {});
    assertTrue(lines.size() > 50);
    return lines.stream()
        .map(
            c ->
                DynamicTest.dynamicTest(
                    c.get("id").asText(),
                    () -> {
                      String src = c.get("template").asText();
                      Map<String, Object> vars = new LinkedHashMap<>(ctx);
                      if (c.has("context")) { // per-case overrides, e.g. other messages or tools
                        vars.putAll(
                            TokenizerFixtures.JSON.convertValue(
                                c.get("context"), new TypeReference<Map<String, Object>>() {}));
                      }
                      if (c.has("expected")) {
                        assertEquals(
                            c.get("expected").asText(), ChatTemplate.compile(src).render(vars));
                      } else {
                        ChatTemplate.TemplateException e =
                            assertThrows(
                                ChatTemplate.TemplateException.class,
                                () -> ChatTemplate.compile(src).render(vars),
                                c.get("error").asText());
                        String error = c.get("error").asText();
                        assertEquals(
                            error.startsWith("TemplateError: "),
                            e.raisedByTemplate(),
                            e.getMessage());
                        if (e.raisedByTemplate()) {
                          assertTrue(
                              e.getMessage().endsWith(error.substring("TemplateError: ".length())));
                        }
                      }
                    }));
  }

  @Test
  void llama3Template() {
    String src =
        "{% set loop_messages = messages %}{% for message in loop_messages %}"
            + "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
            + "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
            + "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
            + "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
            + "{% endif %}";
    String out =
        ChatTemplate.compile(src)
            .render(
                List.of(msg("system", "You are terse. "), msg("user", "  Hi\n")),
                true,
                LLAMA_TOKENS,
                null);
    assertEquals(
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse."
            + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            + "<|start_header_id|>assistant<|end_header_id|>\n\n",
        out);
  }

  @Test
  void llama31MultiLineTemplate() {
    String src =
        String.join(
            "\n",
            "{{- bos_token }}",
            "{%- if not date_string is defined %}",
            "    {%- set date_string = \"26 Jul 2024\" %}",
            "{%- endif %}",
            "{%- if messages[0]['role'] == 'system' %}",
            "    {%- set system_message = messages[0]['content']|trim %}",
            "    {%- set messages = messages[1:] %}",
            "{%- else %}",
            "    {%- set system_message = \"\" %}",
            "{%- endif %}",
            "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}",
            "{{- \"Today Date: \" + date_string + \"\\n\\n\" }}",
            "{{- system_message }}",
            "{{- \"<|eot_id|>\" }}",
            "{%- for message in messages %}",
            "    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
                + "+ message['content'] | trim + '<|eot_id|>' }}",
            "{%- endfor %}",
            "{%- if add_generation_prompt %}",
            "    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}",
            "{%- endif %}",
            "");
    ChatTemplate t = ChatTemplate.compile(src);
    String h = "<|start_header_id|>";
    String e = "<|end_header_id|>\n\n";
    assertEquals(
        "<|begin_of_text|>"
            + h
            + "system"
            + e
            + "Today Date: 01 Jan 2025\n\nBe brief."
            + "<|eot_id|>"
            + h
            + "user"
            + e
            + "Hi<|eot_id|>"
            + h
            + "assistant"
            + e
            + "Hello.<|eot_id|>"
            + h
            + "user"
            + e
            + "Bye<|eot_id|>"
            + h
            + "assistant"
            + e,
        t.render(
            List.of(
                msg("system", " Be brief.\n"),
                msg("user", "Hi"),
                msg("assistant", "Hello."),
                msg("user", "Bye")),
            true,
            LLAMA_TOKENS,
            Map.of("date_string", "01 Jan 2025")));
    assertEquals(
        "<|begin_of_text|>"
            + h
            + "system"
            + e
            + "Today Date: 26 Jul 2024\n\n<|eot_id|>"
            + h
            + "user"
            + e
            + "Hi<|eot_id|>",
        t.render(List.of(msg("user", "Hi")), false, LLAMA_TOKENS, null));
  }

  @Test
  void zephyrTemplate() {
    String src =
        String.join(
            "\n",
            "{% for message in messages %}",
            "{% if message['role'] == 'user' %}",
            "{{ '<|user|>\\n' + message['content'] + eos_token }}",
            "{% elif message['role'] == 'system' %}",
            "{{ '<|system|>\\n' + message['content'] + eos_token }}",
            "{% elif message['role'] == 'assistant' %}",
            "{{ '<|assistant|>\\n'  + message['content'] + eos_token }}",
            "{% endif %}",
            "{% if loop.last and add_generation_prompt %}",
            "{{ '<|assistant|>' }}",
            "{% endif %}",
            "{% endfor %}");
    ChatTemplate t = ChatTemplate.compile(src);
    Map<String, String> tokens = Map.of("eos_token", "</s>");
    assertEquals(
        "<|system|>\nSys</s>\n<|user|>\nHi</s>\n<|assistant|>\n",
        t.render(List.of(msg("system", "Sys"), msg("user", "Hi")), true, tokens, null));
    assertEquals(
        "<|user|>\nHi</s>\n<|assistant|>\nYo</s>\n",
        t.render(List.of(msg("user", "Hi"), msg("assistant", "Yo")), false, tokens, null));
  }

  private static final String MISTRAL =
      "{{ bos_token }}{% for message in messages %}"
          + "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
          + "{{ raise_exception('Conversation roles must alternate"
          + " user/assistant/user/assistant/...') }}{% endif %}"
          + "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
          + "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
          + "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}"
          + "{% endfor %}";

  @Test
  void mistralTemplateAndRoleOrderError() {
    ChatTemplate t = ChatTemplate.compile(MISTRAL);
    assertEquals(
        "<s>[INST] Hi [/INST]Hello</s>[INST] Bye [/INST]",
        t.render(
            List.of(msg("user", "Hi"), msg("assistant", "Hello"), msg("user", "Bye")),
            false,
            MISTRAL_TOKENS,
            null));
    ChatTemplate.TemplateException e =
        assertThrows(
            ChatTemplate.TemplateException.class,
            () ->
                t.render(
                    List.of(msg("user", "Hi"), msg("user", "Again")), false, MISTRAL_TOKENS, null));
    assertTrue(e.raisedByTemplate());
    assertEquals(
        "chat template raised an error: Conversation roles must alternate"
            + " user/assistant/user/assistant/...",
        e.getMessage());
    e =
        assertThrows(
            ChatTemplate.TemplateException.class,
            () -> t.render(List.of(msg("system", "S")), false, MISTRAL_TOKENS, null));
    assertTrue(e.getMessage().contains("roles must alternate"), e.getMessage());
  }

  @Test
  void syntaxAndRuntimeErrorsNameTheLine() {
    ChatTemplate.TemplateException e =
        assertThrows(
            ChatTemplate.TemplateException.class,
            () ->
                ChatTemplate.compile(
                    "a\n{% for m in messages %}\n{{ m.content + }}\n{% endfor %}"));
    assertFalse(e.raisedByTemplate());
    assertTrue(e.getMessage().startsWith("chat template line 3:"), e.getMessage());
    e =
        assertThrows(
            ChatTemplate.TemplateException.class, () -> ChatTemplate.compile("{% include 'x' %}"));
    assertTrue(e.getMessage().contains("unsupported tag 'include'"), e.getMessage());
    ChatTemplate t = ChatTemplate.compile("ok\n\n{{ messages[0].content.nope() }}");
    e =
        assertThrows(
            ChatTemplate.TemplateException.class,
            () -> t.render(List.of(msg("user", "x")), false, null, null));
    assertTrue(e.getMessage().startsWith("chat template line 3:"), e.getMessage());
  }

  @Test
  void variablesLikeTransformers() {
    ChatTemplate t =
        ChatTemplate.compile(
            "{{ bos_token is defined }} {{ eos_token }} "
                + "{{ tools is none }} {{ documents is defined }} {{ enable_thinking is false }} "
                + "{{ messages[0].tool_calls|tojson }}");
    Map<String, Object> call = new LinkedHashMap<>();
    call.put("name", "f");
    call.put("arguments", Map.of("x", 1));
    Map<String, Object> m = msg("assistant", "");
    m.put("tool_calls", List.of(call));
    Map<String, String> tokens = new LinkedHashMap<>();
    tokens.put("bos_token", null);
    tokens.put("eos_token", "</s>");
    assertEquals(
        "False </s> True True True [{\"name\": \"f\", \"arguments\": {\"x\": 1}}]",
        t.render(List.of(m), false, tokens, Map.of("enable_thinking", false)));
  }

  @Test
  void selectNamedTemplates() throws IOException {
    JsonNode list =
        TokenizerFixtures.JSON.readTree(
            "[{\"name\": \"rag\", \"template\": \"R\"}, {\"name\": \"default\", \"template\": \"D\"}]");
    assertEquals("D", ChatTemplate.select(list, "cfg.json"));
    assertEquals("S", ChatTemplate.select(TokenizerFixtures.JSON.readTree("\"S\""), "cfg.json"));
    assertNull(ChatTemplate.select(null, "cfg.json"));
    JsonNode noDefault =
        TokenizerFixtures.JSON.readTree("[{\"name\": \"rag\", \"template\": \"R\"}]");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> ChatTemplate.select(noDefault, "cfg.json"));
    assertTrue(
        e.getMessage().startsWith("cfg.json: ") && e.getMessage().contains("default"),
        e.getMessage());
  }
}
