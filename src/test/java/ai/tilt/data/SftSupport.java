package ai.tilt.data;

import ai.tilt.tokenizer.ByteLevelBpe;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Helpers for the data tests. Tilt's byte-level BPE has fixed special ids (256 bytes + 253 merges,
 * then {@code <|bos|>} 509, {@code <|eos|>} 510, {@code <|pad|>} 511) and byte tokens whose id is
 * the byte value, so expectations can be written by hand.
 */
final class SftSupport {
  static final long BOS = 509;
  static final long EOS = 510;
  static final long PAD = 511;

  private SftSupport() {}

  /** Tilt's tokenizer written to {@code dir}. */
  static TextTokenizer bpe(Path dir) {
    ByteLevelBpe.write(dir);
    return TextTokenizer.load(dir);
  }

  /** Tilt's tokenizer with its tokenizer_config.json edited, plus an optional generation_config. */
  static TextTokenizer bpe(Path dir, Consumer<ObjectNode> editConfig, String generationConfig) {
    ByteLevelBpe.write(dir);
    try {
      Path cfg = dir.resolve("tokenizer_config.json");
      ObjectNode o = (ObjectNode) Jsonl.mapper().readTree(cfg.toFile());
      editConfig.accept(o);
      Files.writeString(cfg, Jsonl.mapper().writeValueAsString(o));
      if (generationConfig != null) {
        Files.writeString(dir.resolve("generation_config.json"), generationConfig);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return TextTokenizer.load(dir);
  }

  /** A JSONL file of the given lines (each followed by a newline). */
  static Path jsonl(Path dir, String name, String... lines) {
    try {
      return Files.writeString(dir.resolve(name), String.join("\n", lines) + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The target tokens decoded, one string per run of consecutive targets, joined by "|". */
  static String targetText(TextTokenizer tok, SftExample e) {
    return runs(tok, e, true);
  }

  /** The non-target tokens decoded, one string per run, joined by "|". */
  static String contextText(TextTokenizer tok, SftExample e) {
    return runs(tok, e, false);
  }

  private static String runs(TextTokenizer tok, SftExample e, boolean wanted) {
    List<String> out = new ArrayList<>();
    int t = 0;
    while (t < e.length()) {
      if (e.targets()[t] != wanted) {
        t++;
        continue;
      }
      int start = t;
      while (t < e.length() && e.targets()[t] == wanted) {
        t++;
      }
      out.add(tok.decode(java.util.Arrays.copyOfRange(e.ids(), start, t), false));
    }
    return String.join("|", out);
  }

  /** Targets as a string of T/F, easy to compare with a hand-written pattern. */
  static String pattern(SftExample e) {
    StringBuilder b = new StringBuilder();
    for (boolean t : e.targets()) {
      b.append(t ? 'T' : 'F');
    }
    return b.toString();
  }
}
