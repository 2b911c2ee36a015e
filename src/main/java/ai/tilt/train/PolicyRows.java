package ai.tilt.train;

import ai.tilt.data.PromptSet;
import ai.tilt.data.ResponseGroup;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A rollout's rows (row g * C + k: prompt g's k-th completion) as the groups {@link PackedRows}
 * packs, prompt once and its C completions after it, and the packed per-target values back to rows.
 */
final class PolicyRows {
  private PolicyRows() {}

  /** Rows [start, end). */
  static int[] range(int start, int end) {
    int[] rows = new int[end - start];
    Arrays.setAll(rows, i -> start + i);
    return rows;
  }

  /**
   * {@code rows}, whole groups of c in order (rows[k * c] the first of prompt rows[k * c] / c), as
   * response groups; null when a completion is empty (it has no target to pack: the rows are then
   * run alone).
   */
  static List<ResponseGroup> groups(
      List<PromptSet.Prompt> prompts, int c, long[][] completions, int[] rows) {
    List<ResponseGroup> out = new ArrayList<>();
    for (int k = 0; k < rows.length; k += c) {
      List<long[]> responses = new ArrayList<>(c);
      for (int j = 0; j < c; j++) {
        long[] completion = completions[rows[k + j]];
        if (completion.length == 0) {
          return null;
        }
        responses.add(completion);
      }
      out.add(
          new ResponseGroup(prompts.get(rows[k] / c).ids(), responses, new double[c], 0, false));
    }
    return out;
  }

  /** Each row's values from packed (G, M) values {@code flat}: its completion's tokens in order. */
  static void scatter(
      float[] flat, int maxTargets, int c, long[][] completions, int[] rows, float[][] out) {
    for (int k = 0; k < rows.length; k += c) {
      int at = k / c * maxTargets;
      for (int j = 0; j < c; j++) {
        int r = rows[k + j];
        out[r] = Arrays.copyOfRange(flat, at, at + completions[r].length);
        at += completions[r].length;
      }
    }
  }
}
