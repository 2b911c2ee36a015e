package ai.tilt.data;

import ai.tilt.data.JsonFields.Invalid;
import ai.tilt.tokenizer.TextTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * A supervised fine-tuning data set: JSON Lines in TRL's formats, tokenised into {@link
 * SftExample}s with the tokens to train on marked.
 *
 * <p>Formats (one per line; other keys are ignored):
 *
 * <ul>
 *   <li>{@code {"prompt": text, "completion": text}}: the prompt is encoded by {@link
 *       TextTokenizer#encodePrompt} (BOS once if the tokenizer uses one, never twice), the
 *       completion without special tokens, and the tokenizer's first EOS is appended (see below).
 *       Targets: the completion and its EOS.
 *   <li>{@code {"prompt": [messages], "completion": [one assistant message] or text}}: the prompt
 *       is rendered by the chat template with a generation prompt, the whole conversation without
 *       one; the prompt's ids must be a prefix of the conversation's, and the rest (assistant text
 *       plus whatever end-of-turn tokens the template writes) are the targets.
 *   <li>{@code {"messages": [...]}}: loss on assistant turns only. For assistant message i, the
 *       targets are the tokens that rendering {@code messages[:i+1]} adds to rendering {@code
 *       messages[:i]} with a generation prompt; both must be prefixes of the rendered conversation
 *       (up to its last assistant turn), or the line is rejected as not prefix-stable (Qwen3's
 *       template, for one, drops the think block of earlier assistant turns, so multi-turn Qwen3
 *       chats are rejected rather than trained on wrong tokens).
 *   <li>{@code {"prompt_ids": [ids], "completion_ids": [ids]}}: pre-tokenised, taken as they are
 *       (no BOS or EOS added: write the EOS into the completion if the model should learn to stop);
 *       the one format a model without tokenizer files can train on (the paper lab's bandits).
 *       Targets: the completion ids.
 *   <li>{@code {"text": text}}: language modelling: encoded as a text prompt (BOS as above) with
 *       EOS appended as for completions; every token after the first is a target.
 * </ul>
 *
 * <p>EOS rule: for text completions and {@code text}, when {@link DataOptions#appendEos()} is on,
 * the tokenizer's first EOS id is appended unless the tokens already end with one of its EOS ids
 * (so it is never doubled). Chat formats get no extra EOS: the template's end-of-turn tokens are
 * the stop signal. Targets are recorded from where tokens came from, so an EOS equal to the pad id
 * stays a target.
 *
 * <p>Truncation rule. The prompt is everything before the first target (for {@code messages}:
 * before the first assistant reply; for {@code text}: the first token). (1) If the prompt is longer
 * than {@code maxPromptLength} (when set), it keeps its last tokens, those nearest the completion,
 * but a leading BOS is kept in front: the cut prompt is BOS + the last {@code maxPromptLength - 1}
 * tokens, or the last {@code maxPromptLength} tokens without BOS. (2) If the prompt still has
 * {@code maxLength} tokens or more, no target fits and the line is invalid. (3) Otherwise the
 * sequence is cut to its first {@code maxLength} tokens, dropping the end of the completion, its
 * EOS included: a cut completion did not end, so it is not taught to stop there. Examples cut by
 * (1) or (3) are counted as truncated.
 *
 * <p>Bad lines (invalid JSON or UTF-8, not an object, missing or mistyped fields, empty completion,
 * no assistant turn, template errors, no target left) fail the load with a {@link DataException}
 * reading {@code file:line: reason}, or with {@link DataOptions#skipInvalid()} are skipped and
 * counted (the first reasons are kept in {@link Stats}). A file with no usable example is an error
 * either way.
 */
public final class SftDataset {
  private static final int KEPT_REASONS = 5;

  /**
   * Counts over one load.
   *
   * @param lines non-blank lines read
   * @param used examples kept
   * @param skipped bad lines skipped (only with skipInvalid)
   * @param truncated kept examples that were cut
   * @param totalTokens tokens over kept examples
   * @param targetTokens target tokens over kept examples
   * @param skipReasons the first few skipped lines' {@code file:line: reason} messages
   */
  public record Stats(
      int lines,
      int used,
      int skipped,
      int truncated,
      long totalTokens,
      long targetTokens,
      List<String> skipReasons) {
    /** One line for logs. */
    public String summary() {
      String s =
          lines
              + " lines: "
              + used
              + " used, "
              + skipped
              + " skipped, "
              + truncated
              + " truncated; "
              + totalTokens
              + " tokens, "
              + targetTokens
              + " targets";
      return skipReasons.isEmpty() ? s : s + "; first skipped: " + skipReasons.get(0);
    }
  }

  private final List<SftExample> examples;
  private final Stats stats;

  private SftDataset(List<SftExample> examples, Stats stats) {
    this.examples = examples;
    this.stats = stats;
  }

  /**
   * Reads and tokenises a JSONL file (see the class comment for formats and rules).
   *
   * @throws DataException naming {@code file:line} for a bad line (unless skipped), or the file
   *     when it is missing or has no usable example
   * @throws IOException when the file cannot be read
   */
  public static SftDataset load(Path file, TextTokenizer tokenizer, DataOptions options)
      throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new DataException("no such file: " + file);
    }
    return load(DataSpec.of(file), tokenizer, options);
  }

  /**
   * Reads and tokenises a data set in any of {@link DataFiles}' forms, its rows checked as JSONL
   * lines are.
   *
   * @throws DataException naming the row's place for a bad row (unless skipped), or the data set
   *     when it cannot be found or has no usable example
   * @throws IOException when a file cannot be read
   */
  public static SftDataset load(DataSpec data, TextTokenizer tokenizer, DataOptions options)
      throws IOException {
    SftLines enc = new SftLines(tokenizer, options);
    List<SftExample> out = new ArrayList<>();
    List<String> reasons = new ArrayList<>();
    int lines = 0;
    int skipped = 0;
    try (DataRows rows = DataRows.open(data)) {
      Row row;
      while ((row = rows.next()) != null) {
        lines++;
        try {
          out.add(enc.example(row.object(), row.number()));
        } catch (Invalid e) {
          String message = row.message(e);
          if (!options.skipInvalid()) {
            throw new DataException(message);
          }
          skipped++;
          if (reasons.size() < KEPT_REASONS) {
            reasons.add(message);
          }
        }
      }
    }
    Stats stats =
        new Stats(
            lines,
            out.size(),
            skipped,
            (int) out.stream().filter(SftExample::truncated).count(),
            out.stream().mapToLong(SftExample::length).sum(),
            out.stream().mapToLong(SftExample::targetCount).sum(),
            Collections.unmodifiableList(reasons));
    if (out.isEmpty()) {
      throw new DataException(data.name() + ": no usable examples (" + stats.summary() + ")");
    }
    return new SftDataset(Collections.unmodifiableList(out), stats);
  }

  /** The examples in file order. */
  public List<SftExample> examples() {
    return examples;
  }

  public Stats stats() {
    return stats;
  }

  static boolean startsWith(long[] ids, long[] prefix) {
    return ids.length >= prefix.length
        && Arrays.equals(ids, 0, prefix.length, prefix, 0, prefix.length);
  }

  static long[] concat(long[] a, long[] b) {
    long[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
