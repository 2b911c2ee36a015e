package ai.tilt.sampling;

import ai.tilt.tokenizer.TextTokenizer;
import java.util.ArrayList;
import java.util.List;

/**
 * One choice of a request as its tokens arrive from the generator: its tokens and log-probs, its
 * text (cut before the first {@code stop} string), why it finished, and, when streamed, how much of
 * it has been sent. The text is decoded again after each token only when something needs it before
 * the end (a stream, stop strings); otherwise once, at the end.
 */
final class ChoiceState {
  final int index;
  final List<Long> ids = new ArrayList<>();
  final List<Float> logprobs = new ArrayList<>();
  final List<long[]> topIds = new ArrayList<>();
  final List<float[]> topLogprobs = new ArrayList<>();
  private final CompletionRequest request;
  private final TextTokenizer tokenizer; // null: no text
  private final boolean incremental;
  private final int holdBack; // chars a stream keeps back: they may begin a stop string
  private String text = "";
  private int prefixOffset; // the incremental decode's window: tokens that give context
  private int readOffset; // and the first token whose text is not in text yet
  private String finishReason; // null while it runs: "stop" or "length"
  private boolean cutAtStop; // the text ends before a stop string: nothing after it is added
  private int sentChars;
  private int sentTokens;
  private boolean lastSent; // a stream sent its finish_reason

  ChoiceState(int index, CompletionRequest request, TextTokenizer tokenizer) {
    this.index = index;
    this.request = request;
    this.tokenizer = tokenizer;
    this.incremental = tokenizer != null && (request.stream() || !request.stopStrings().isEmpty());
    this.holdBack = request.stopStrings().stream().mapToInt(String::length).max().orElse(1) - 1;
  }

  /**
   * Takes the next sampled token.
   *
   * @return false when the choice is done (EOS, a stop string, max_tokens): the generator may drop
   *     its row
   */
  boolean accept(long token, float logprob, long[] top, float[] topLogps) {
    if (finishReason != null) {
      return false;
    }
    ids.add(token);
    logprobs.add(logprob);
    if (top != null) {
      topIds.add(top);
      topLogprobs.add(topLogps);
    }
    boolean eos = !request.params().ignoreEos() && contains(request.stops(), token);
    if (incremental) {
      String full = text + newText(false);
      int cut = -1;
      for (String stop : request.stopStrings()) {
        // only the new end can hold a new match (a few chars more: a split character completed)
        int at = full.indexOf(stop, Math.max(0, text.length() - stop.length() - 4));
        if (at >= 0 && (cut < 0 || at < cut)) {
          cut = at;
        }
      }
      if (cut >= 0) {
        full = full.substring(0, cut);
        finishReason = "stop";
        cutAtStop = true;
      }
      text = full;
    }
    if (finishReason == null && eos) {
      finishReason = "stop";
    } else if (finishReason == null && ids.size() >= request.params().maxNewTokens()) {
      finishReason = "length";
    }
    if (finishReason != null && incremental && !cutAtStop) {
      text += newText(true); // a character still incomplete at the end is ended as it is
    }
    return finishReason == null;
  }

  /**
   * The text the tokens since the last call add, decoding only a window of them: the tokens already
   * read, from {@code prefixOffset}, give the new ones their context (a leading space, a merge),
   * and the difference of the two decodes is what is new (vLLM's incremental detokenizer; like
   * vLLM, without transformers' clean-up of spaces, which rewrites text already sent). Decoding
   * everything after every token cost O(n^2) on the batch's thread (0.8 s per 4096-token row).
   * Until {@code force}, text ending inside a multi-byte character waits for its next bytes.
   */
  private String newText(boolean force) {
    String before = decode(prefixOffset, readOffset);
    String after = decode(prefixOffset, ids.size());
    if (after.length() <= before.length() || (!force && after.endsWith("\uFFFD"))) {
      return "";
    }
    prefixOffset = readOffset;
    readOffset = ids.size();
    return after.substring(before.length());
  }

  private String decode(int from, int to) {
    if (from >= to) {
      return "";
    }
    long[] window = new long[to - from];
    for (int i = from; i < to; i++) {
      window[i - from] = ids.get(i);
    }
    return tokenizer.decodeRaw(window, request.skipSpecialTokens());
  }

  private static boolean contains(long[] ids, long id) {
    for (long x : ids) {
      if (x == id) {
        return true;
      }
    }
    return false;
  }

  /** Ends a choice the generator ended (a cancelled request's rows end unfinished). */
  void finish(Generator.FinishReason reason) {
    if (finishReason == null) {
      finishReason = reason == Generator.FinishReason.EOS ? "stop" : "length";
    }
    if (!incremental && tokenizer != null) {
      text = decode(0, ids.size());
    } else if (incremental && !cutAtStop) {
      text += newText(true);
    }
  }

  boolean finished() {
    return finishReason != null;
  }

  String finishReason() {
    return finishReason;
  }

  /** The completion's text (without the prompt), cut before a stop string. */
  String text() {
    return text;
  }

  /**
   * Text not yet streamed that can be sent now: all of it once finished; before, all but what may
   * still turn into a stop string or complete a multi-byte character.
   */
  String takeText() {
    int end = text.length();
    if (finishReason == null) {
      end = Math.max(sentChars, end - holdBack);
      while (end > sentChars && text.charAt(end - 1) == '\uFFFD') {
        end--; // the bytes of a character split over tokens: wait for the rest
      }
      if (end > sentChars && Character.isHighSurrogate(text.charAt(end - 1))) {
        end--;
      }
    }
    end = Math.min(end, text.length()); // a tokenizer whose text of more tokens is shorter
    String out = text.substring(Math.min(sentChars, end), end);
    sentChars = Math.max(sentChars, end);
    return out;
  }

  /** The first token not yet streamed, then marks every token so far as streamed. */
  int takeTokens() {
    int from = sentTokens;
    sentTokens = ids.size();
    return from;
  }

  int tokenCount() {
    return ids.size();
  }

  /** True once, when a finished choice's last chunk goes out; false before and after. */
  boolean takeLast() {
    if (finishReason == null || lastSent) {
      return false;
    }
    lastSent = true;
    return true;
  }

  boolean lastSent() {
    return lastSent;
  }

  private final List<String> tokenTexts = new ArrayList<>();
  private final List<Integer> offsets = new ArrayList<>(); // offsets.get(t): text before token t

  /**
   * Token t as logprobs name it: {@code token_id:N} with {@code return_tokens_as_token_ids} (or no
   * tokenizer), else its own decoded text, special tokens included.
   */
  String tokenText(int t) {
    textOffset(t);
    return tokenTexts.get(t);
  }

  String token(long id) {
    if (request.tokensAsIds() || tokenizer == null) {
      return "token_id:" + id;
    }
    return tokenizer.decode(new long[] {id}, false);
  }

  /** Where token t's text starts in the completion, summing the tokens' own texts (as vLLM). */
  int textOffset(int t) {
    while (offsets.size() <= t) {
      int k = offsets.size();
      if (k == 0) {
        offsets.add(0);
      } else {
        offsets.add(offsets.get(k - 1) + tokenTexts.get(k - 1).length());
      }
      tokenTexts.add(token(ids.get(k)));
    }
    return offsets.get(t);
  }
}
