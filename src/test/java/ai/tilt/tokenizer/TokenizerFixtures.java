package ai.tilt.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * Test access to the tokenizer fixtures copied from shared/fixtures/tokenizers into
 * src/test/resources (tokenizer.json is stored gzipped and unpacked once per JVM into a temp dir).
 */
public final class TokenizerFixtures {
  public static final ObjectMapper JSON = new ObjectMapper();
  private static final Map<String, Path> DIRS = new HashMap<>();
  private static final Map<String, TextTokenizer> LOADED = new HashMap<>();
  private static Path root;

  private TokenizerFixtures() {}

  /** One input line and its expected line. */
  record Case(String id, JsonNode input, JsonNode expected) {
    boolean isChat() {
      return input.has("messages");
    }
  }

  /** A directory holding the fixture's tokenizer.json and tokenizer_config.json. */
  public static synchronized Path dir(String name) {
    return DIRS.computeIfAbsent(name, TokenizerFixtures::unpack);
  }

  /** A shared tokenizer per fixture (the qwen3 one takes about a second to load). */
  public static synchronized TextTokenizer tokenizer(String name) {
    return LOADED.computeIfAbsent(name, n -> TextTokenizer.load(dir(n)));
  }

  public static List<Case> cases(String name) {
    try {
      Path src = resource(name);
      List<String> in = Files.readAllLines(src.resolve("input.jsonl"));
      List<String> ex = Files.readAllLines(src.resolve("expected.jsonl"));
      if (in.size() != ex.size()) {
        throw new IllegalStateException(name + ": input/expected line counts differ");
      }
      List<Case> out = new ArrayList<>();
      for (int i = 0; i < in.size(); i++) {
        JsonNode a = JSON.readTree(in.get(i));
        JsonNode b = JSON.readTree(ex.get(i));
        if (!a.get("id").equals(b.get("id"))) {
          throw new IllegalStateException(name + ": line " + (i + 1) + " ids differ");
        }
        out.add(new Case(a.get("id").asText(), a, b));
      }
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static long[] ids(JsonNode array) {
    return JSON.convertValue(array, long[].class);
  }

  private static Path resource(String name) {
    URL url = TokenizerFixtures.class.getResource("/fixtures/tokenizers/" + name);
    if (url == null) {
      throw new IllegalStateException("missing test resource fixtures/tokenizers/" + name);
    }
    try {
      return Path.of(url.toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  private static Path unpack(String name) {
    try {
      if (root == null) {
        root = Files.createTempDirectory("tilt-tokenizer-fixtures");
        Path r = root;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(r)));
      }
      Path out = Files.createDirectories(root.resolve(name));
      Path src = resource(name);
      try (InputStream gz =
          new GZIPInputStream(Files.newInputStream(src.resolve("tokenizer.json.gz")))) {
        Files.copy(gz, out.resolve("tokenizer.json"), StandardCopyOption.REPLACE_EXISTING);
      }
      Files.copy(
          src.resolve("tokenizer_config.json"),
          out.resolve("tokenizer_config.json"),
          StandardCopyOption.REPLACE_EXISTING);
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static void deleteTree(Path p) {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException e) {
      // best effort: it is a temp directory
    }
  }
}
