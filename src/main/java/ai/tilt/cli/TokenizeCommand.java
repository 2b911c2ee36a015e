package ai.tilt.cli;

import ai.tilt.tokenizer.TextTokenizer;
import ai.tilt.tokenizer.chat.ChatTemplate;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedInputStream;
import java.io.BufferedWriter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tilt tokenize}: runs a model's tokenizer and chat template over a JSONL file, so results
 * can be compared with transformers line by line. The output is written to a temporary file and
 * moved into place only when every line succeeded.
 */
@Command(
    name = "tokenize",
    mixinStandardHelpOptions = true,
    description = {
      "Tokenize texts and render chat templates from a JSONL file.",
      "Text line:  {\"id\", \"text\", \"add_special_tokens\"} -> {\"id\", \"ids\", \"decoded\"}",
      "Chat line:  {\"id\", \"messages\", \"add_generation_prompt\", \"kwargs\"?}"
          + " -> {\"id\", \"rendered\", \"ids\"}",
      "(ids of the rendered text, without adding special tokens again)"
    })
public final class TokenizeCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final TypeReference<List<Map<String, Object>>> MESSAGES = new TypeReference<>() {};
  private static final TypeReference<Map<String, Object>> OBJECT = new TypeReference<>() {};

  @Spec CommandSpec spec;

  @Option(
      names = "--model",
      converter = HubModelPath.class,
      required = true,
      paramLabel = "DIR",
      description = "Directory with tokenizer.json (and tokenizer_config.json etc.).")
  Path model;

  @Option(names = "--input", required = true, paramLabel = "IN.jsonl", description = "Input JSONL.")
  Path input;

  @Option(
      names = "--output",
      required = true,
      paramLabel = "OUT.jsonl",
      description = "Output JSONL (one line per non-blank input line).")
  Path output;

  /** A problem with one input line; reported as {@code file:line: message}. */
  private static final class LineError extends Exception {
    LineError(String message) {
      super(message);
    }
  }

  @Override
  public Integer call() throws IOException {
    PrintWriter err = spec.commandLine().getErr();
    if (!Files.isRegularFile(input)) {
      err.println("tokenize: input file not found: " + input);
      return 1;
    }
    TextTokenizer tok;
    try {
      tok = TextTokenizer.load(model);
    } catch (IllegalArgumentException e) {
      err.println("tokenize: " + e.getMessage());
      return 1;
    }
    Path abs = output.toAbsolutePath();
    Path tmp = abs.resolveSibling(abs.getFileName() + ".part");
    try (tok) {
      int lineNo = 0;
      try (InputStream in = new BufferedInputStream(Files.newInputStream(input));
          BufferedWriter out = Files.newBufferedWriter(tmp)) {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        String line;
        while ((line = readLine(in, buf)) != null) {
          lineNo++;
          if (line.isBlank()) {
            continue;
          }
          out.write(JSON.writeValueAsString(process(tok, line)));
          out.newLine();
        }
      } catch (LineError e) {
        err.println("tokenize: " + input + ":" + lineNo + ": " + e.getMessage());
        return 1;
      } catch (CharacterCodingException e) {
        err.println("tokenize: " + input + ":" + (lineNo + 1) + ": not valid UTF-8");
        return 1;
      } catch (IOException e) {
        err.println("tokenize: " + e);
        return 1;
      }
      try {
        Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
      } catch (IOException e) {
        err.println("tokenize: cannot write " + abs + ": " + e);
        return 1;
      }
      return 0;
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /**
   * One line, decoded strictly as UTF-8 (a Reader decodes ahead in blocks, which would blame the
   * wrong line); null at end of file.
   */
  private static String readLine(InputStream in, ByteArrayOutputStream buf) throws IOException {
    buf.reset();
    int b;
    while ((b = in.read()) != -1 && b != '\n') {
      buf.write(b);
    }
    if (b == -1 && buf.size() == 0) {
      return null;
    }
    byte[] bytes = buf.toByteArray();
    int len = bytes.length > 0 && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
    return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes, 0, len)).toString();
  }

  private static ObjectNode process(TextTokenizer tok, String line) throws LineError {
    JsonNode node;
    try {
      node = JSON.readTree(line);
    } catch (JsonProcessingException e) {
      throw new LineError("invalid JSON: " + e.getOriginalMessage());
    }
    if (node == null || !node.isObject()) {
      throw new LineError("expected a JSON object");
    }
    boolean hasText = node.has("text");
    boolean hasMessages = node.has("messages");
    if (hasText == hasMessages) {
      throw new LineError("a line needs exactly one of \"text\" or \"messages\"");
    }
    ObjectNode out = JSON.createObjectNode();
    if (node.has("id")) {
      out.set("id", node.get("id"));
    }
    if (hasText) {
      if (!node.get("text").isTextual()) {
        throw new LineError("\"text\" must be a string");
      }
      long[] ids = tok.encode(node.get("text").asText(), flag(node, "add_special_tokens", true));
      out.set("ids", JSON.valueToTree(ids));
      out.put("decoded", tok.decode(ids, false));
      return out;
    }
    if (!tok.hasChatTemplate()) {
      throw new LineError(
          "chat line, but the tokenizer in " + tok.directory() + " has no chat template");
    }
    JsonNode messages = node.get("messages");
    if (!messages.isArray()) {
      throw new LineError("\"messages\" must be an array of objects");
    }
    for (JsonNode m : messages) {
      if (!m.isObject()) {
        throw new LineError("\"messages\" must be an array of objects");
      }
    }
    JsonNode kw = node.path("kwargs");
    if (!kw.isMissingNode() && !kw.isNull() && !kw.isObject()) {
      throw new LineError("\"kwargs\" must be an object");
    }
    String rendered;
    try {
      rendered =
          tok.applyChatTemplate(
              JSON.convertValue(messages, MESSAGES),
              flag(node, "add_generation_prompt", false),
              kw.isObject() ? JSON.convertValue(kw, OBJECT) : null);
    } catch (ChatTemplate.TemplateException e) {
      throw new LineError(e.getMessage());
    }
    out.put("rendered", rendered);
    out.set("ids", JSON.valueToTree(tok.encode(rendered, false)));
    return out;
  }

  private static boolean flag(JsonNode node, String key, boolean dflt) throws LineError {
    JsonNode v = node.get(key);
    if (v == null || v.isNull()) {
      return dflt;
    }
    if (!v.isBoolean()) {
      throw new LineError("\"" + key + "\" must be true or false");
    }
    return v.asBoolean();
  }
}
