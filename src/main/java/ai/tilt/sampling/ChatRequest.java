package ai.tilt.sampling;

import ai.tilt.tokenizer.chat.ChatTemplate;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A {@code POST /v1/chat/completions} body: {@code messages} rendered with the model's chat
 * template (as transformers' {@code apply_chat_template(..., add_generation_prompt=True)}), then
 * sampled as a completion of that one prompt. Besides the fields both routes share ({@link
 * CompletionRequest#SAMPLING_FIELDS}) it reads {@code max_completion_tokens} (or the older {@code
 * max_tokens}; unset: what is left of the context), {@code logprobs} (a boolean) with {@code
 * top_logprobs}, and vLLM's {@code chat_template_kwargs} and {@code add_generation_prompt}. Tools
 * and non-text content are refused by name: the server does not parse tool calls or images.
 */
final class ChatRequest {
  private ChatRequest() {}

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> ROLES =
      Set.of("system", "developer", "user", "assistant", "tool");
  private static final Set<String> FIELDS =
      CompletionRequest.union(
          CompletionRequest.SAMPLING_FIELDS,
          Set.of(
              "messages",
              "max_completion_tokens",
              "logprobs",
              "top_logprobs",
              "response_format",
              "tools",
              "tool_choice",
              "parallel_tool_calls",
              "chat_template_kwargs",
              "add_generation_prompt"));

  static CompletionRequest parse(JsonNode body, CompletionRequest.Server server) {
    Fields f = new Fields(body, FIELDS);
    boolean logprobs = f.bool("logprobs", false);
    Integer top = f.integer("top_logprobs", null, 0, CompletionRequest.MAX_TOP_LOGPROBS);
    if (top != null && !logprobs) {
      throw ApiError.invalid(
          "top_logprobs", "Invalid 'top_logprobs': only allowed when 'logprobs' is true.");
    }
    String maxTokensName = "max_completion_tokens";
    if (f.has("max_tokens")) {
      if (f.has("max_completion_tokens")) {
        throw ApiError.invalid(
            "max_tokens",
            "Invalid 'max_tokens': give either 'max_tokens' or 'max_completion_tokens', not both.");
      }
      maxTokensName = "max_tokens";
    }
    JsonNode tools = f.get("tools");
    if (tools != null && !(tools.isArray() && tools.size() == 0)) {
      throw ApiError.unsupported(
          "tools", "Unsupported value for 'tools': tilt serve does not parse tool calls.");
    }
    f.onlyNeutral(
        "tool_choice", JsonNodeFactory.instance.textNode("none"), "does not parse tool calls");
    f.bool("parallel_tool_calls", true); // only checked: meaningless without tools
    JsonNode format = f.get("response_format");
    if (format != null && !"text".equals(format.path("type").asText())) {
      throw ApiError.unsupported(
          "response_format",
          "Unsupported value for 'response_format': tilt serve writes plain text only.");
    }
    Map<String, Object> kwargs = new LinkedHashMap<>();
    JsonNode extra = f.get("chat_template_kwargs");
    if (extra != null) {
      if (!extra.isObject()) {
        throw Fields.wrongType("chat_template_kwargs", "an object", extra);
      }
      kwargs.putAll(JSON.convertValue(extra, Map.class));
    }
    boolean generationPrompt = f.bool("add_generation_prompt", true);
    List<Map<String, Object>> messages = messages(f.get("messages"));
    if (server.tokenizer() == null || !server.tokenizer().hasChatTemplate()) {
      throw ApiError.invalid(
          "messages",
          "no_chat_template",
          "This model has no chat template (chat_template in tokenizer_config.json, or"
              + " chat_template.jinja), so 'messages' cannot be rendered; use /v1/completions"
              + " with a prompt.");
    }
    long[] prompt;
    String text;
    try {
      text = server.tokenizer().applyChatTemplate(messages, generationPrompt, kwargs);
      prompt = server.tokenizer().encodePrompt(text);
    } catch (ChatTemplate.TemplateException e) {
      if (e.raisedByTemplate()) {
        throw ApiError.invalid("messages", e.getMessage());
      }
      throw ApiError.server("the model's chat template failed: " + e.getMessage());
    }
    if (prompt.length == 0) {
      throw ApiError.invalid("messages", "Invalid 'messages': the rendered prompt has no tokens.");
    }
    return CompletionRequest.sampling(
        f,
        server,
        true,
        List.of(prompt),
        List.of(text),
        maxTokensName,
        0,
        "messages",
        logprobs ? (top == null ? 0 : top) : -1,
        false);
  }

  /** The conversation as the template reads it; content parts are joined into one string. */
  private static List<Map<String, Object>> messages(JsonNode list) {
    if (list == null) {
      throw ApiError.invalid(
          "messages", "missing_required_parameter", "Missing required parameter: 'messages'.");
    }
    if (!list.isArray()) {
      throw Fields.wrongType("messages", "an array", list);
    }
    if (list.size() == 0) {
      throw ApiError.invalid(
          "messages",
          "empty_array",
          "Invalid 'messages': empty array. Expected an array with minimum length 1.");
    }
    List<Map<String, Object>> out = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      String at = "messages[" + i + "]";
      JsonNode m = list.get(i);
      if (!m.isObject()) {
        throw Fields.wrongType(at, "an object", m);
      }
      JsonNode role = m.get("role");
      if (role == null || !role.isTextual()) {
        throw ApiError.invalid(
            at + ".role",
            "missing_required_parameter",
            "Missing required parameter: '" + at + ".role'.");
      }
      if (!ROLES.contains(role.asText())) {
        throw ApiError.invalid(
            at + ".role",
            "invalid_value",
            "Invalid value: '"
                + role.asText()
                + "'. Supported values are: 'system', 'developer', 'user', 'assistant' and 'tool'.");
      }
      @SuppressWarnings("unchecked")
      Map<String, Object> one = JSON.convertValue(m, LinkedHashMap.class);
      JsonNode content = m.get("content");
      if (content != null && content.isArray()) {
        one.put("content", text(content, at + ".content"));
      } else if (content != null && !content.isTextual() && !content.isNull()) {
        throw Fields.wrongType(at + ".content", "a string or an array of content parts", content);
      }
      out.add(one);
    }
    return out;
  }

  private static String text(JsonNode parts, String at) {
    List<String> texts = new ArrayList<>();
    for (int j = 0; j < parts.size(); j++) {
      JsonNode part = parts.get(j);
      String type = part.path("type").asText("");
      if (!type.equals("text") || !part.path("text").isTextual()) {
        throw ApiError.unsupported(
            at + "[" + j + "].type",
            "Unsupported value for '"
                + at
                + "["
                + j
                + "].type': '"
                + type
                + "'; tilt serve takes text parts only ({\"type\": \"text\", \"text\": ...}).");
      }
      texts.add(part.get("text").asText());
    }
    return String.join("\n", texts);
  }
}
