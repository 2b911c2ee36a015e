package ai.tilt.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ai.tilt.train.LrSchedule.Kind;
import org.junit.jupiter.api.Test;

class LrScheduleTest {
  @Test
  void warmupRampsToPeak() {
    LrSchedule s = new LrSchedule(Kind.CONSTANT, 1e-3, 0, 4, 100);
    assertEquals(0.25e-3, s.at(0), 1e-15);
    assertEquals(0.75e-3, s.at(2), 1e-15);
    assertEquals(1e-3, s.at(3), 1e-15);
    assertEquals(1e-3, s.at(99), 1e-15);
  }

  @Test
  void linearAndCosineDecayToTheFloor() {
    // after 10 warm-up steps, 90 decay steps; at step 55 progress = 45/90 = 0.5
    LrSchedule lin = new LrSchedule(Kind.LINEAR, 1.0, 0.1, 10, 100);
    assertEquals(1.0, lin.at(10), 1e-12);
    assertEquals(0.1 + 0.9 * 0.5, lin.at(55), 1e-12);
    assertEquals(0.1, lin.at(100), 1e-12);
    assertEquals(0.1, lin.at(500), 1e-12); // never below the floor
    LrSchedule cos = new LrSchedule(Kind.COSINE, 1.0, 0.1, 10, 100);
    assertEquals(0.55, cos.at(55), 1e-12); // 0.1 + 0.9 * 0.5 * (1 + cos(pi/2))
    // progress 0.25: 0.1 + 0.9 * 0.5 * (1 + cos(pi/4)) = 0.1 + 0.45 * 1.7071067811865475
    LrSchedule noWarmup = new LrSchedule(Kind.COSINE, 1.0, 0.1, 0, 80);
    assertEquals(0.1 + 0.45 * (1 + Math.sqrt(0.5)), noWarmup.at(20), 1e-12);
    assertEquals(0.1, cos.at(100), 1e-12);
  }

  @Test
  void rejectsBadSettings() {
    assertThrows(IllegalArgumentException.class, () -> new LrSchedule(Kind.COSINE, 0, 0, 0, 10));
    assertThrows(
        IllegalArgumentException.class, () -> new LrSchedule(Kind.COSINE, 1e-3, 1e-2, 0, 10));
  }
}
