package ai.tilt.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LabJobsTest {
  @TempDir Path tmp;

  static final String PLAN =
      String.join(
          "\n",
          "seeds: 2",
          "experiments:",
          "  ex:",
          "    steps:",
          "      data: {run: [lab, bandit-data, --out, '{out}', --seed, '{seed}'], quick: [--sft-lines, '10']}",
          "      ref: {run: [train, '{recipes}/r.yaml', --run-dir, '{out}', --set, 'data.train={data}/sft.jsonl', --set, 'seed={seed}']}",
          "      toy: {run: [lab, toy, --out, '{out}'], seedless: true}",
          "      pairs-a: {run: [data, pairs, --out, '{out}/p.jsonl', --seed, '{seed}']}",
          "    groups:",
          "      main:",
          "        recipe: b.yaml",
          "        set: ['model.path={ref}']",
          "        settings: {a: ['x=1'], b: ['x=2']}",
          "        methods: {m1: ['loss=dpo', 'data.train={pairs-{setting}}/p.jsonl'], m2: ['loss={type: ipo, beta: 0.1}']}",
          "        quick: {settings: [a], set: ['online.iterations=3']}",
          "");

  LabPlan plan() throws Exception {
    Path f = Files.writeString(tmp.resolve("lab.yaml"), PLAN);
    return LabPlan.load(f);
  }

  @Test
  void expandsStepsPerSeedThenSettingsMethodsSeeds() throws Exception {
    LabPlan p = plan();
    List<LabJobs.Job> full =
        LabJobs.expand(
            p, new LabJobs.Options(tmp.resolve("out"), tmp, false, List.of(1, 2), List.of()));
    assertEquals(3 * 2 + 1 + 2 * 2 * 2, full.size());
    // each seed draws its own data, reference and pairs; the toy runs once
    assertEquals(
        List.of(
            "ex/steps/data/seed-1",
            "ex/steps/data/seed-2",
            "ex/steps/ref/seed-1",
            "ex/steps/ref/seed-2",
            "ex/steps/toy",
            "ex/steps/pairs-a/seed-1",
            "ex/steps/pairs-a/seed-2"),
        full.subList(0, 7).stream().map(LabJobs.Job::id).toList());
    assertEquals(List.of("ex/steps/data/seed-2"), full.get(3).deps());
    assertEquals(2, full.get(3).seed());
    assertEquals(0, full.get(4).seed());
    assertEquals(
        List.of("ex/steps/toy", "ex/steps/data/seed-2", "ex/steps/ref/seed-2"), full.get(6).deps());
    assertTrue(full.get(2).trains() && !full.get(0).trains());
    LabJobs.Job run = full.get(7);
    assertEquals("ex/main/a/m1/seed-1", run.id());
    assertEquals(
        List.of(
            "ex/steps/toy",
            "ex/steps/data/seed-1",
            "ex/steps/ref/seed-1",
            "ex/steps/pairs-a/seed-1"),
        run.deps());
    assertEquals(
        List.of(
            "train",
            "{recipes}/b.yaml",
            "--run-dir",
            "{out}",
            "--set",
            "model.path={ref}",
            "--set",
            "x=1",
            "--set",
            "loss=dpo",
            "--set",
            "data.train={pairs-{setting}}/p.jsonl",
            "--set",
            "seed=1"),
        run.argv());
    // a run reads its own seed's step results
    assertEquals(
        Map.of(
            "toy",
            Path.of("/t"),
            "data",
            Path.of("/d1"),
            "ref",
            Path.of("/r1"),
            "pairs-a",
            Path.of("/p1")),
        LabJobs.stepResults(
            run,
            Map.of(
                "ex/steps/toy", Path.of("/t"),
                "ex/steps/data/seed-1", Path.of("/d1"),
                "ex/steps/data/seed-2", Path.of("/d2"),
                "ex/steps/ref/seed-1", Path.of("/r1"),
                "ex/steps/ref/seed-2", Path.of("/r2"),
                "ex/steps/pairs-a/seed-1", Path.of("/p1"))));
    assertEquals(
        List.of(
            "lab",
            "bandit-data",
            "--out",
            tmp.resolve("out/ex/steps/data/seed-2").toString(),
            "--seed",
            "2"),
        LabJobs.resolve(full.get(1), tmp, Map.of()));
    List<LabJobs.Job> quick =
        LabJobs.expand(
            p, new LabJobs.Options(tmp.resolve("out"), tmp, true, List.of(1), List.of()));
    assertEquals(4 + 2, quick.size()); // setting a only, one seed
    assertEquals(
        List.of("lab", "bandit-data", "--out", "{out}", "--seed", "{seed}", "--sft-lines", "10"),
        quick.get(0).argv());
    assertTrue(quick.get(4).argv().contains("online.iterations=3"));
    assertEquals(
        0,
        LabJobs.expand(p, new LabJobs.Options(tmp, tmp, false, List.of(1), List.of("other")))
            .size());
  }

  @Test
  void placeholdersResolveSettingFirstThenSteps() throws Exception {
    LabPlan p = plan();
    List<LabJobs.Job> jobs =
        LabJobs.expand(
            p, new LabJobs.Options(tmp.resolve("out"), tmp, false, List.of(1), List.of()));
    LabJobs.Job run = jobs.get(4);
    List<String> argv =
        LabJobs.resolve(
            run,
            Path.of("/plans"),
            Map.of(
                "ref",
                Path.of("/r/step-000010"),
                "pairs-a",
                Path.of("/pa"),
                "data",
                Path.of("/d")));
    assertEquals("/plans/b.yaml", argv.get(1));
    assertEquals(tmp.resolve("out/ex/main/a/m1/seed-1").toString(), argv.get(3));
    assertEquals("model.path=/r/step-000010", argv.get(5));
    assertEquals("data.train=/pa/p.jsonl", argv.get(11));
    // YAML flow values are not placeholders
    assertEquals(
        "loss={type: ipo, beta: 0.1}",
        LabJobs.resolve(jobs.get(5), tmp, Map.of("ref", tmp, "pairs-a", tmp)).get(9));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> LabJobs.resolve(run, tmp, Map.of("ref", tmp)));
    assertTrue(
        e.getMessage().startsWith("ex/main/a/m1/seed-1: unknown placeholder {pairs-a}"),
        e.getMessage());
  }

  @Test
  void badPlansNameTheKey() throws Exception {
    Path f = Files.writeString(tmp.resolve("bad.yaml"), PLAN.replace("seeds: 2", "seedz: 2"));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> LabPlan.load(f));
    assertTrue(e.getMessage().contains("unknown key 'seedz'"), e.getMessage());
    Path g =
        Files.writeString(
            tmp.resolve("bad2.yaml"),
            PLAN.replace("quick: {settings: [a]", "quick: {settings: [c]"));
    e = assertThrows(IllegalArgumentException.class, () -> LabPlan.load(g));
    assertTrue(
        e.getMessage().contains("ex.main.quick.settings names 'c', which is not one of [a, b]"),
        e.getMessage());
    Path h =
        Files.writeString(
            tmp.resolve("bad3.yaml"),
            PLAN.replace(
                "      data: {run: [lab, bandit-data, --out, '{out}', --seed, '{seed}'], quick: [--sft-lines, '10']}",
                "      data: {quick: [--sft-lines, '10']}"));
    e = assertThrows(IllegalArgumentException.class, () -> LabPlan.load(h));
    assertTrue(e.getMessage().contains("a step needs 'run'"), e.getMessage());
    // a step run per seed that ignores the seed would repeat one draw under every seed
    Path i =
        Files.writeString(
            tmp.resolve("bad4.yaml"),
            PLAN.replace("'{out}/p.jsonl', --seed, '{seed}'", "'{out}/p.jsonl'"));
    e = assertThrows(IllegalArgumentException.class, () -> LabPlan.load(i));
    assertTrue(e.getMessage().contains("never uses {seed}"), e.getMessage());
  }

  @Test
  void theShippedQuickPlanRunsEveryCellAClaimReads() throws Exception {
    LabPlan p = LabPlan.load(Path.of("recipes/paper/lab.yaml"));
    assertEquals(
        List.of("bandit", "bandit-tokens", "length", "alpaca", "toy"),
        List.copyOf(p.experiments().keySet()));
    List<LabJobs.Job> full =
        LabJobs.expand(
            p,
            new LabJobs.Options(tmp, Path.of("recipes/paper"), false, List.of(1, 2, 3), List.of()));
    List<LabJobs.Job> quick =
        LabJobs.expand(
            p, new LabJobs.Options(tmp, Path.of("recipes/paper"), true, List.of(1), List.of()));
    assertTrue(quick.size() * 3 <= full.size(), quick.size() + " vs " + full.size());
    // every run any comparison of C1-C7 reads is in the quick subset, so the quick lab decides
    // every claim (at reduced size), rather than judging the few comparisons it happens to have
    Evidence reads = new Evidence(new LabResults(List.of()), 1, List.of(1));
    for (Claims.Claim c : Claims.all(null)) {
      for (Claims.Comparison k : c.comparisons()) {
        k.lhs().applyAsDouble(reads);
        k.rhs().applyAsDouble(reads);
      }
    }
    java.util.Set<String> quickIds =
        quick.stream().map(LabJobs.Job::id).collect(java.util.stream.Collectors.toSet());
    java.util.Set<String> fullIds =
        full.stream().map(LabJobs.Job::id).collect(java.util.stream.Collectors.toSet());
    assertTrue(reads.touched().size() > 80, reads.touched().toString());
    for (String id : reads.touched()) {
      assertTrue(fullIds.contains(id), "a claim reads " + id + ", which the plan never runs");
      assertTrue(quickIds.contains(id), "a claim reads " + id + ", which --quick leaves out");
    }
    // the paper-beside-lab table reads only runs the full plan has (a misspelt cell would print
    // "no data" for ever)
    Evidence paper = new Evidence(new LabResults(List.of()), 1, List.of(1));
    for (PaperNumbers.Row r : PaperNumbers.rows()) {
      r.lab().applyAsDouble(paper);
      r.labSteps().applyAsDouble(paper);
    }
    assertTrue(paper.touched().size() > 30, paper.touched().toString());
    for (String id : paper.touched()) {
      assertTrue(fullIds.contains(id), "the paper's numbers read " + id + ", never run");
    }
    for (LabPlan.Experiment e : p.experiments().values()) {
      for (LabPlan.Group g : e.groups().values()) {
        assertTrue(Files.isRegularFile(Path.of("recipes/paper").resolve(g.recipe())), g.recipe());
      }
    }
    // two seeds' offline runs read different offline sets and references: their own seed's steps
    java.util.Map<String, Path> results = new java.util.HashMap<>();
    for (LabJobs.Job j : full) {
      if (j.step()) {
        results.put(j.id(), j.dir());
      }
    }
    List<List<String>> offline = new java.util.ArrayList<>();
    for (int seed : List.of(1, 2)) {
      LabJobs.Job run =
          full.stream()
              .filter(j -> j.id().equals("bandit/main/far/offline-dpo/seed-" + seed))
              .findFirst()
              .orElseThrow();
      offline.add(
          LabJobs.resolve(run, Path.of("recipes/paper"), LabJobs.stepResults(run, results)));
    }
    assertTrue(
        offline
            .get(0)
            .contains(
                "data.train=" + tmp.resolve("bandit/steps/data/seed-1") + "/offline-p10.jsonl"),
        offline.get(0).toString());
    assertTrue(
        offline
            .get(1)
            .contains(
                "data.train=" + tmp.resolve("bandit/steps/data/seed-2") + "/offline-p10.jsonl"),
        offline.get(1).toString());
    assertTrue(
        offline.get(1).contains("model.path=" + tmp.resolve("bandit/steps/reference/seed-2")),
        offline.get(1).toString());
  }
}
