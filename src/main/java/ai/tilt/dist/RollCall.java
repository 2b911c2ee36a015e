package ai.tilt.dist;

import java.util.ArrayList;
import java.util.List;

/**
 * What a roll call after a failed collective found, in words: the library's answer (tilt_dist.cc's
 * rollCall, rollcall.h) is the most collectives any worker entered on its first line, then {@code
 * RANK ENTERED HOST} for each worker to name, ENTERED -1 for one that gave no answer.
 */
final class RollCall {
  private RollCall() {}

  /**
   * Names the workers that gave no answer (dead); when none died, the live ones behind the others
   * (the one they all waited on). After a death, the live workers behind are most likely still
   * computing their step, so they are not named.
   *
   * @param answers the library's answer
   * @param waitSeconds how long the roll call waited, for the message
   */
  static String verdict(String answers, long waitSeconds) {
    try {
      return words(answers, waitSeconds);
    } catch (RuntimeException e) { // never hide the collective's own error behind this one
      return "a roll call answered what Tilt cannot read: " + answers.strip().replace('\n', ';');
    }
  }

  private static String words(String answers, long waitSeconds) {
    List<String> lines = answers.lines().toList();
    long most = Long.parseLong(lines.get(0).strip());
    List<String> silent = new ArrayList<>();
    List<String> behind = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      String[] f = line.split(" ", 3); // RANK ENTERED HOST
      String host = f.length < 3 || f[2].isBlank() ? "host unknown" : f[2];
      String named = "rank " + Integer.parseInt(f[0]) + " on " + host;
      long entered = Long.parseLong(f[1]);
      if (entered < 0) {
        silent.add(named);
      } else {
        behind.add(named + " (" + entered + ")");
      }
    }
    if (!silent.isEmpty()) {
      return "no answer to a roll call within "
          + waitSeconds
          + " s (dead, or the whole process frozen): "
          + String.join(", ", silent);
    }
    if (!behind.isEmpty()) {
      return "alive but behind, the others waiting on it (hung or slow outside the collectives;"
          + " collectives entered, against "
          + most
          + "): "
          + String.join(", ", behind);
    }
    return "every worker answered a roll call, none behind the others";
  }
}
