package ai.tilt.data;

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
   * The Skew Length truncation: the completion cut after its first {@code 1 + floor(E)}
   * whitespace-separated words, E ~ Exponential(mean), or left whole when it is no longer. The
   * paper's Skew Length data is Min Length data whose completions were truncated toward short
   * lengths, so that it covers the reference policy's lengths poorly (its condition C2); the exact
   * truncation rule is not published, so this one is ours. The text up to the end of the kept word
   * is returned as it was (leading space and inner spacing kept).
   */
  public static String truncateWords(String completion, double mean, SplittableRandom random) {
    int keep = 1 + (int) Math.floor(-mean * Math.log(1 - random.nextDouble()));
    int words = 0;
    int i = 0;
    int n = completion.length();
    while (i < n) {
      while (i < n && Character.isWhitespace(completion.charAt(i))) {
        i++;
      }
      if (i == n) {
        break;
      }
      while (i < n && !Character.isWhitespace(completion.charAt(i))) {
        i++;
      }
      words++;
      if (words == keep) {
        return completion.substring(0, i);
      }
    }
    return completion;
  }
}
