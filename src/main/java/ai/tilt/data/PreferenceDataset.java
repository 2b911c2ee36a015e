package ai.tilt.data;

import ai.tilt.data.JsonFields.Invalid;
import ai.tilt.data.PreferenceLines.Parsed;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * An offline preference data set: JSON Lines in TRL's formats, tokenised into {@link
 * ResponseGroup}s (one prompt, its responses and their rewards).
 *
 * <p>Formats, detected per line from its fields; one file holds one kind ({@link Kind}), and a line
 * of another kind stops the load naming both lines, even with skipInvalid (a mixed file is a
 * mistake in assembling the data, not a noisy line). Other keys are ignored.
 *
 * <ul>
 *   <li>Pairs: {@code {"prompt", "chosen", "rejected"}} as text; or conversational, with {@code
 *       prompt} a list of messages and {@code chosen}/{@code rejected} each a list with one
 *       assistant message (or a string, its content); or with an implicit prompt, {@code chosen}
 *       and {@code rejected} being whole conversations that share all but their last (assistant)
 *       message, which shared part is the prompt. Optional numbers {@code score_chosen} and {@code
 *       score_rejected} (both or neither) become the rewards, else [1, 0]. Chosen and rejected with
 *       the same ids are a bad line: such a pair has no preference to learn.
 *   <li>Unpaired (KTO): {@code {"prompt", "completion", "label"}}, label a boolean; reward 1 for
 *       true (desirable), 0 for false.
 *   <li>Scored lists: {@code {"prompt", "responses": [N >= 1], "rewards": [N finite numbers]}};
 *       with a chat prompt each response is a string or a list with one assistant message.
 * </ul>
 *
 * <p>Tokenisation. The prompt is tokenised once and shared by every response of its line: a text
 * prompt by {@link TextTokenizer#encodePrompt} (BOS once if the tokenizer uses one, never twice), a
 * chat prompt by the chat template with a generation prompt (BOS, if any, only as the template
 * writes it). A text response is {@code encode(text, false)} (no BOS, no special tokens added) plus
 * the tokenizer's first EOS id, appended once unless the response already ends with one of its EOS
 * ids, and only with {@link DataOptions#appendEos()}; whether an id is the pad id plays no part, so
 * pad == EOS changes nothing. A chat response is the tokens that rendering prompt + that assistant
 * message adds to the prompt's rendering: the reply and the template's end-of-turn tokens (e.g.
 * Qwen's {@code <|im_end|>\n}), with no extra EOS and with the assistant header left in the prompt;
 * a template whose prompt rendering is not a prefix of that is a bad line. A prompt of no tokens
 * (an empty text with a tokenizer that adds no BOS) is a bad line: nothing would predict a
 * response's first token.
 *
 * <p>Truncation, TRL's rule. Only when prompt + the longest response exceed {@code maxLength}: (1)
 * a prompt longer than {@code maxPromptLength} (when set) keeps its last tokens, those nearest the
 * responses, with a leading BOS kept in front (BOS + the last {@code maxPromptLength - 1} tokens);
 * (2) if that leaves no room for a response token the line is bad; (3) every response longer than
 * {@code maxLength -} prompt length keeps its first tokens, losing its EOS or end of turn: a cut
 * response did not end, so it is not scored as if it did. Cut prompts and cut responses are counted
 * separately in {@link Stats}. A pair whose two responses are equal after the cut is a bad line.
 *
 * <p>Bad lines (invalid JSON or UTF-8, not an object, missing or mistyped fields, empty responses,
 * identical chosen and rejected, non-finite rewards, responses and rewards of different lengths,
 * template errors, no room left) fail the load with a {@link DataException} reading {@code
 * file:line: reason}, or with {@link DataOptions#skipInvalid()} are skipped and counted. A file
 * with no usable group is an error either way.
 */
public final class PreferenceDataset {
  private static final int KEPT_REASONS = 5;

  /** The kinds of preference data; a file holds one. */
  public enum Kind {
    PAIRS("a pair"),
    UNPAIRED("an unpaired (KTO) example"),
    SCORED_LISTS("a scored list");

    private final String article;

    Kind(String article) {
      this.article = article;
    }

    /** The kind with its article, for messages ("a pair"). */
    public String describe() {
      return article;
    }
  }

  /**
   * Counts over one load.
   *
   * @param lines non-blank lines read
   * @param used groups kept
   * @param skipped bad lines skipped (only with skipInvalid)
   * @param truncatedPrompts kept groups whose prompt was cut
   * @param truncatedResponses responses of kept groups that were cut
   * @param promptTokens prompt tokens over kept groups, each prompt counted once
   * @param responseTokens response tokens over kept groups
   * @param skipReasons the first few skipped lines' {@code file:line: reason} messages
   */
  public record Stats(
      int lines,
      int used,
      int skipped,
      int truncatedPrompts,
      int truncatedResponses,
      long promptTokens,
      long responseTokens,
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
              + truncatedPrompts
              + " truncated prompts, "
              + truncatedResponses
              + " truncated responses; "
              + (promptTokens + responseTokens)
              + " tokens ("
              + promptTokens
              + " prompt, "
              + responseTokens
              + " response)";
      return skipReasons.isEmpty() ? s : s + "; first skipped: " + skipReasons.get(0);
    }
  }

  private final Kind kind;
  private final List<ResponseGroup> groups;
  private final Stats stats;

  private PreferenceDataset(Kind kind, List<ResponseGroup> groups, Stats stats) {
    this.kind = kind;
    this.groups = groups;
    this.stats = stats;
  }

  /**
   * Reads and tokenises a JSONL file (see the class comment for formats and rules).
   *
   * @throws DataException naming {@code file:line} for a bad line (unless skipped) or a line of
   *     another kind than the file's, or naming the file when it is missing or has no usable group
   * @throws IOException when the file cannot be read
   */
  public static PreferenceDataset load(Path file, TextTokenizer tok, DataOptions options)
      throws IOException {
    if (!Files.isRegularFile(file)) {
      throw new DataException("no such file: " + file);
    }
    return load(DataSpec.of(file), tok, options);
  }

  /**
   * Reads and tokenises a data set in any of {@link DataFiles}' forms, its rows checked as JSONL
   * lines are.
   *
   * @throws DataException naming the row's place ({@code file:line}, {@code file: row R (row group
   *     G)}) for a bad row (unless skipped) or a row of another kind than the first's, or naming
   *     the data set when it cannot be found or has no usable group
   * @throws IOException when a file cannot be read
   */
  public static PreferenceDataset load(DataSpec data, TextTokenizer tok, DataOptions options)
      throws IOException {
    if (tok == null) {
      throw new DataException(
          data.name() + ": preference data is text, and the model has no tokenizer files");
    }
    PreferenceLines parser = new PreferenceLines(tok, options);
    List<ResponseGroup> out = new ArrayList<>();
    List<String> reasons = new ArrayList<>();
    Kind kind = null;
    String kindRow = null;
    int lines = 0;
    int skipped = 0;
    int cutPrompts = 0;
    int cutResponses = 0;
    try (DataRows rows = DataRows.open(data)) {
      Row row;
      while ((row = rows.next()) != null) {
        lines++;
        try {
          JsonNode o = row.object();
          Kind k = PreferenceLines.kindOf(o);
          if (kind == null) {
            kind = k;
            kindRow = row.where();
          } else if (k != kind) {
            throw row.error(
                "this row is "
                    + k.describe()
                    + " but "
                    + kindRow
                    + " was "
                    + kind.describe()
                    + " (one kind per data set)");
          }
          Fit fit = fit(parser.parse(o, k), k, row.number(), tok, options);
          out.add(fit.group());
          cutPrompts += fit.promptCut() ? 1 : 0;
          cutResponses += fit.responsesCut();
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
    long promptTokens = 0;
    long responseTokens = 0;
    for (ResponseGroup g : out) {
      promptTokens += g.promptLength();
      for (long[] r : g.responses()) {
        responseTokens += r.length;
      }
    }
    Stats stats =
        new Stats(
            lines,
            out.size(),
            skipped,
            cutPrompts,
            cutResponses,
            promptTokens,
            responseTokens,
            Collections.unmodifiableList(reasons));
    if (out.isEmpty()) {
      throw new DataException(
          data.name() + ": no usable preference groups (" + stats.summary() + ")");
    }
    return new PreferenceDataset(kind, Collections.unmodifiableList(out), stats);
  }

  /** The kind of every line of the file. */
  public Kind kind() {
    return kind;
  }

  /** The groups in file order. */
  public List<ResponseGroup> groups() {
    return groups;
  }

  public Stats stats() {
    return stats;
  }

  /** A kept group and what its truncation cut. */
  private record Fit(ResponseGroup group, boolean promptCut, int responsesCut) {}

  /** The class comment's truncation rule. */
  private static Fit fit(Parsed p, Kind kind, int line, TextTokenizer tok, DataOptions options)
      throws Invalid {
    long[] prompt = p.prompt();
    if (prompt.length == 0) {
      throw new Invalid(
          "empty prompt: nothing precedes the first response token (this"
              + " tokenizer adds no BOS)");
    }
    int longest = 0;
    for (long[] r : p.responses()) {
      longest = Math.max(longest, r.length);
    }
    int max = options.maxLength();
    if (prompt.length + longest <= max) {
      return new Fit(new ResponseGroup(prompt, p.responses(), p.rewards(), line, false), false, 0);
    }
    boolean promptCut = false;
    Integer maxPrompt = options.maxPromptLength();
    if (maxPrompt != null && prompt.length > maxPrompt) {
      int head = tok.bosId() != null && prompt[0] == tok.bosId() ? 1 : 0;
      int drop = prompt.length - maxPrompt;
      prompt =
          SftDataset.concat(
              Arrays.copyOf(prompt, head), Arrays.copyOfRange(prompt, head + drop, prompt.length));
      promptCut = true;
    }
    int room = max - prompt.length;
    if (room < 1) {
      throw new Invalid(
          "prompt has "
              + prompt.length
              + " tokens, leaving no room for a response"
              + " within maxLength "
              + max
              + " (set maxPromptLength to truncate prompts)");
    }
    List<long[]> responses = new ArrayList<>();
    int cut = 0;
    for (long[] r : p.responses()) {
      if (r.length > room) {
        r = Arrays.copyOf(r, room);
        cut++;
      }
      responses.add(r);
    }
    if (kind == Kind.PAIRS && Arrays.equals(responses.get(0), responses.get(1))) {
      throw new Invalid(
          "chosen and rejected are identical after truncation to their first " + room + " tokens");
    }
    boolean truncated = promptCut || cut > 0;
    return new Fit(
        new ResponseGroup(prompt, responses, p.rewards(), line, truncated), promptCut, cut);
  }
}
