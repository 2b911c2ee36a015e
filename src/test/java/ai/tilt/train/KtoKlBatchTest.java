package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.data.ResponseGroup;
import ai.tilt.data.SftExample;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** KTO's KL batch: each prompt followed by another prompt's response, never its own. */
class KtoKlBatchTest {
  /** Prompt {p}, response {100 + id}: a response says which group it came from. */
  static ResponseGroup group(long prompt, long id, double label) {
    return new ResponseGroup(
        new long[] {prompt, prompt},
        List.of(new long[] {100 + id}),
        new double[] {label},
        1,
        false);
  }

  static long promptOf(SftExample row) {
    return row.ids()[0];
  }

  static long responseGroupOf(SftExample row) {
    return row.ids()[row.ids().length - 1] - 100;
  }

  @Test
  void twinsWithTheSamePromptAreNeverPaired() {
    // desirable and undesirable twins of three prompts, as KTO data made from pairs comes
    List<ResponseGroup> data =
        List.of(
            group(1, 0, 1),
            group(1, 1, 0),
            group(2, 2, 1),
            group(2, 3, 0),
            group(3, 4, 1),
            group(3, 5, 0));
    for (List<Integer> idx :
        List.of(List.of(0, 1, 2, 3, 4, 5), List.of(0, 1, 2, 3), List.of(5, 4, 1))) {
      List<SftExample> rows = PreferenceObjective.mismatched(data, idx);
      assertEquals(idx.size(), rows.size());
      Set<Long> partners = new HashSet<>();
      for (int a = 0; a < idx.size(); a++) {
        SftExample row = rows.get(a);
        ResponseGroup mine = data.get(idx.get(a));
        assertEquals(mine.prompt()[0], promptOf(row), "row a keeps its own prompt");
        long partner = responseGroupOf(row);
        assertTrue(idx.contains((int) partner), "the partner is in the micro-batch");
        assertFalse(
            Arrays.equals(mine.prompt(), data.get((int) partner).prompt()),
            "group " + idx.get(a) + " paired with " + partner + ", a response to its own prompt");
        assertTrue(row.targets()[row.ids().length - 1], "the response is the target");
        partners.add(partner);
      }
      assertTrue(partners.size() >= 2, "not every row takes the same partner: " + partners);
      // the same micro-batch draws the same partners (a resumed run recomputes them)
      List<SftExample> again = PreferenceObjective.mismatched(data, idx);
      for (int a = 0; a < idx.size(); a++) {
        assertTrue(Arrays.equals(rows.get(a).ids(), again.get(a).ids()));
      }
    }
  }

  @Test
  void aMicroBatchWithOneDistinctPromptIsRefused() {
    List<ResponseGroup> data = List.of(group(1, 0, 1), group(1, 1, 0), group(2, 2, 1));
    for (List<Integer> idx : List.of(List.of(2), List.of(0, 1))) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> PreferenceObjective.mismatched(data, idx));
      assertTrue(e.getMessage().contains("train.micro_batch_size"), e.getMessage());
      assertTrue(e.getMessage().contains("only one distinct prompt"), e.getMessage());
    }
  }
}
