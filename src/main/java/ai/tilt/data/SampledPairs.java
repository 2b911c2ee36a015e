package ai.tilt.data;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The pure parts of building a preference dataset from a model's own samples ({@code tilt data
 * pairs}), the way the paper's synthetic datasets were made (Tajwar et al., 2024, section 5: two
 * completions of the SFT policy per prompt, relabelled by a gold reward): which two of a prompt's
 * scored samples make its pair, and the Skew Length truncation.
 */
public final class SampledPairs {
  private SampledPairs() {}

  /**
   * The pair of a prompt's samples: the first best and the first worst by reward, or null when all
   * rewards are within {@code minGap} of each other (a tie says nothing about preference).
   *
   * @return {chosen index, rejected index}, or null
   */
  public static int[] bestVsWorst(double[] rewards, double minGap) {
    int best = 0;
    int worst = 0;
    for (int i = 1; i < rewards.length; i++) {
      if (rewards[i] > rewards[best]) {
        best = i;
      }
      if (rewards[i] < rewards[worst]) {
        worst = i;
      }
    }
    return rewards[best] - rewards[worst] > minGap ? new int[] {best, worst} : null;
  }

  /**
   * {@link #bestVsWorst(double[], double)}, and also null when the best and the worst are the same
   * text: a tie whatever its scores (a reward model's batched scores of one text can differ in the
   * last bits, and a pair of equal answers teaches nothing).
   */
  public static int[] bestVsWorst(String[] texts, double[] rewards, double minGap) {
    int[] pair = bestVsWorst(rewards, minGap);
    return pair == null || texts[pair[0]].equals(texts[pair[1]]) ? null : pair;
  }

  /**
   * The Skew Length truncation: the completion cut to {@code 1 + floor(E)} whitespace-separated
   * words, E ~ Exponential(mean), or left whole when it is no longer; the first words kept, or with
   * {@code keepLast} the last ones. The paper's Skew Length data is Min Length data whose
   * completions were truncated toward short lengths, so that it covers the reference policy's
   * outputs poorly (its condition C2); the exact rule is not published. Keeping the first words of
   * a count gives a short count the reference itself writes (" 1 2 3"), so on-support; keeping the
   * last gives one it never starts (" 5 6 7"), off its support as the paper's cut text is. The kept
   * text keeps its spacing (one leading space when cut from the front).
   */
  public static String truncateWords(
      String completion, double mean, SplittableRandom random, boolean keepLast) {
    int keep = 1 + (int) Math.floor(-mean * Math.log(1 - random.nextDouble()));
    List<int[]> words = new ArrayList<>(); // [start, end) of each word
    int i = 0;
    int n = completion.length();
    while (i < n) {
      while (i < n && Character.isWhitespace(completion.charAt(i))) {
        i++;
      }
      if (i == n) {
        break;
      }
      int start = i;
      while (i < n && !Character.isWhitespace(completion.charAt(i))) {
        i++;
      }
      words.add(new int[] {start, i});
    }
    if (words.size() <= keep) {
      return completion;
    }
    if (!keepLast) {
      return completion.substring(0, words.get(keep - 1)[1]);
    }
    int start = words.get(words.size() - keep)[0];
    return " " + completion.substring(start, words.get(words.size() - 1)[1]);
  }
}
