package ai.tilt.lab;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Judges one claim: each comparison evaluated seed by seed and decided on the medians ({@link
 * Judging}), one line per comparison with the numbers that decided it and the paper's words it
 * encodes, and seed by seed which comparisons that seed alone agrees with.
 */
final class ClaimJudge {
  private ClaimJudge() {}

  static Claims.Verdict judge(Claims.Claim c, LabResults results, List<Integer> seeds) {
    int holds = 0;
    int ties = 0;
    int fails = 0;
    int noData = 0;
    List<String> lines = new ArrayList<>();
    Set<String> diverged = new LinkedHashSet<>();
    // per seed: comparisons decided with that seed alone (its difference beyond the tolerance)
    int[] seedHolds = new int[seeds.size()];
    int[] seedDecided = new int[seeds.size()];
    int[] seedData = new int[seeds.size()]; // comparisons with both sides for that seed
    List<List<String>> seedFails = new ArrayList<>();
    for (int i = 0; i < seeds.size(); i++) {
      seedFails.add(new ArrayList<>());
    }
    boolean seeded = false;
    for (Claims.Comparison k : c.comparisons()) {
      int n = k.seedless() ? 1 : seeds.size();
      double[] lhs = new double[n];
      double[] rhs = new double[n];
      List<String> divergedHere = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        Evidence e = new Evidence(results, seeds.get(i), seeds);
        lhs[i] = k.lhs().applyAsDouble(e);
        rhs[i] = k.rhs().applyAsDouble(e);
        for (String id : e.touched()) {
          if (results.diverged(id)) {
            divergedHere.add(id);
          }
        }
      }
      Judging.Result r = Judging.compare(lhs, rhs, k.op(), k.tolerance());
      switch (r.outcome()) {
        case HOLDS -> holds++;
        case TIE -> ties++;
        case FAILS -> fails++;
        case NO_DATA -> noData++;
      }
      diverged.addAll(divergedHere);
      lines.add(
          line(k, r)
              + (divergedHere.isEmpty()
                  ? ""
                  : "; diverged runs in it: " + String.join(", ", divergedHere)));
      if (!k.seedless()) {
        seeded = true;
        for (int i = 0; i < n; i++) {
          Judging.Result one =
              Judging.compare(new double[] {lhs[i]}, new double[] {rhs[i]}, k.op(), k.tolerance());
          if (one.outcome() != Judging.Outcome.NO_DATA) {
            seedData[i]++;
          }
          if (one.outcome() == Judging.Outcome.HOLDS || one.outcome() == Judging.Outcome.FAILS) {
            seedDecided[i]++;
          }
          if (one.outcome() == Judging.Outcome.HOLDS) {
            seedHolds[i]++;
          } else if (one.outcome() == Judging.Outcome.FAILS) {
            seedFails
                .get(i)
                .add(
                    k.text() + ": " + Claims.num(lhs[i]) + " " + k.op() + " " + Claims.num(rhs[i]));
          }
        }
      }
    }
    int agree = 0;
    int withData = 0;
    List<String> seedLines = new ArrayList<>();
    for (int i = 0; seeded && i < seeds.size(); i++) {
      if (seedDecided[i] == 0) {
        continue;
      }
      withData++;
      agree += seedHolds[i] == seedData[i] ? 1 : 0;
      seedLines.add(
          "seed "
              + seeds.get(i)
              + ": "
              + seedHolds[i]
              + "/"
              + seedData[i]
              + " hold"
              + (seedFails.get(i).isEmpty()
                  ? ""
                  : "; fail: " + String.join("; ", seedFails.get(i))));
    }
    return new Claims.Verdict(
        c,
        Judging.claim(holds, ties, fails, noData),
        agree,
        withData,
        lines,
        seedLines,
        List.copyOf(diverged));
  }

  /** "holds | text: 0.999 > 0.352 (median of 3 seeds; ...) [paper]". */
  static String line(Claims.Comparison k, Judging.Result r) {
    String word =
        switch (r.outcome()) {
          case HOLDS -> "holds";
          case TIE -> "tie";
          case FAILS -> "fails";
          case NO_DATA -> "no data";
        };
    if (r.outcome() == Judging.Outcome.NO_DATA) {
      return word + " | " + k.text() + " [" + k.paper() + "]";
    }
    return word
        + " | "
        + k.text()
        + ": "
        + Claims.num(r.lhs())
        + " "
        + k.op()
        + " "
        + Claims.num(r.rhs())
        + " ("
        + (r.seeds() == 1 ? "1 run" : "medians of " + r.seeds() + " seeds")
        + "; difference the paper's way "
        + Claims.num(r.advantage())
        + ", tie within ±"
        + Claims.num(r.band())
        + ") ["
        + k.paper()
        + "]";
  }
}
