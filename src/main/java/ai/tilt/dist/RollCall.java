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
   * @param answers the library's answer
   * @param waitSeconds how long the roll call waited, for the message
   */
  static String verdict(String answers, long waitSeconds) {
    List<String> lines = answers.lines().toList();
    long most = Long.parseLong(lines.get(0));
    List<String> silent = new ArrayList<>();
    List<String> behind = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      String[] f = line.split(" ", 3); // RANK ENTERED HOST
      String named = "rank " + f[0] + " on " + f[2];
      long entered = Long.parseLong(f[1]);
      if (entered < 0) {
        silent.add(named);
      } else {
        behind.add(named + " (" + entered + ")");
      }
    }
    List<String> parts = new ArrayList<>();
    if (!silent.isEmpty()) {
      parts.add(
          "no answer to a roll call within "
              + waitSeconds
              + " s (dead, or the whole process frozen): "
              + String.join(", ", silent));
    }
    if (!behind.isEmpty()) {
      parts.add(
          "alive but behind, the others waiting on it (hung or slow outside the collectives;"
              + " collectives entered, against "
              + most
              + "): "
              + String.join(", ", behind));
    }
    return parts.isEmpty()
        ? "every worker answered a roll call, none behind the others"
        : String.join("; ", parts);
  }
}
