package ai.tilt.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The roll call's words for each thing it can find; the roll call itself is DataParallelTest's. */
class RollCallTest {
  @Test
  void aWorkerThatGaveNoAnswerIsCalledDead() {
    assertEquals(
        "no answer to a roll call within 5 s (dead, or the whole process frozen): rank 1 on node-7",
        RollCall.verdict("42\n1 -1 node-7\n", 5));
  }

  @Test
  void aLiveWorkerBehindTheOthersIsTheOneTheyWaitOn() {
    assertEquals(
        "alive but behind, the others waiting on it (hung or slow outside the collectives;"
            + " collectives entered, against 18): rank 2 on a host with spaces (17)",
        RollCall.verdict("18\n2 17 a host with spaces\n", 5));
  }

  @Test
  void aDeathOutranksTheLiveWorkersBehind() {
    // after a death, live workers behind are still computing their step: only the dead are named
    assertEquals(
        "no answer to a roll call within 3 s (dead, or the whole process frozen): rank 0 on a,"
            + " rank 3 on d",
        RollCall.verdict("9\n0 -1 a\n1 8 b\n3 -1 d\n", 3));
  }

  @Test
  void aBlankHostIsUnknown() {
    assertEquals(
        "no answer to a roll call within 5 s (dead, or the whole process frozen): rank 1 on host"
            + " unknown",
        RollCall.verdict("4\n1 -1 \n", 5));
  }

  @Test
  void anAnswerItCannotReadIsQuotedNotThrown() {
    assertEquals(
        "a roll call answered what Tilt cannot read: 4;1 x", RollCall.verdict("4\n1 x\n", 5));
    assertEquals("a roll call answered what Tilt cannot read: ", RollCall.verdict("", 5));
  }

  @Test
  void everyoneAnsweringLevelNamesNobody() {
    assertEquals(
        "every worker answered a roll call, none behind the others", RollCall.verdict("12\n", 5));
  }
}
