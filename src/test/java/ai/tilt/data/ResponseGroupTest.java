package ai.tilt.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ResponseGroupTest {
  @Test
  void sequencesPutTheSharedPromptFirst() {
    List<long[]> responses = new ArrayList<>(List.of(new long[] {7, 8}, new long[] {9}));
    ResponseGroup g =
        new ResponseGroup(new long[] {1, 2}, responses, new double[] {1, 0}, 3, false);
    responses.clear(); // the group keeps its own list
    assertEquals(2, g.size());
    assertEquals(2, g.promptLength());
    assertArrayEquals(new long[] {1, 2, 7, 8}, g.sequence(0));
    assertArrayEquals(new long[] {1, 2, 9}, g.sequence(1));
    assertThrows(UnsupportedOperationException.class, () -> g.responses().add(new long[] {1}));
  }

  @Test
  void invariantsAreChecked() {
    long[] p = {1};
    List<long[]> one = List.<long[]>of(new long[] {2});
    assertThrows(
        IllegalArgumentException.class,
        () -> new ResponseGroup(new long[0], one, new double[] {1}, 1, false));
    assertThrows(
        IllegalArgumentException.class,
        () -> new ResponseGroup(p, List.of(), new double[0], 1, false));
    assertThrows(
        IllegalArgumentException.class,
        () -> new ResponseGroup(p, one, new double[] {1, 2}, 1, false));
    assertThrows(
        IllegalArgumentException.class,
        () -> new ResponseGroup(p, List.<long[]>of(new long[0]), new double[] {1}, 1, false));
    assertThrows(
        IllegalArgumentException.class,
        () -> new ResponseGroup(p, one, new double[] {Double.NaN}, 1, false));
  }
}
