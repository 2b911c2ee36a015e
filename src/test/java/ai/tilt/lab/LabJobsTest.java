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
          "      data: {run: [lab, bandit-data, --out, '{out}'], quick: [--sft-lines, '10']}",
          "      ref: {run: [train, '{recipes}/r.yaml', --run-dir, '{out}', --set, 'data.train={data}/sft.jsonl']}",
          "      pairs-a: {run: [data, pairs, --out, '{out}/p.jsonl']}",
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
  void expandsStepsThenSettingsMethodsSeeds() throws Exception {
    LabPlan p = plan();
    List<LabJobs.Job> full =
        LabJobs.expand(
            p, new LabJobs.Options(tmp.resolve("out"), tmp, false, List.of(1, 2), List.of()));
    assertEquals(3 + 2 * 2 * 2, full.size());
    assertEquals("ex/steps/data", full.get(0).id());
    assertEquals(List.of("ex/steps/data"), full.get(1).deps());
    assertTrue(full.get(1).trains() && !full.get(0).trains());
    LabJobs.Job run = full.get(3);
    assertEquals("ex/main/a/m1/seed-1", run.id());
    assertEquals(List.of("ex/steps/data", "ex/steps/ref", "ex/steps/pairs-a"), run.deps());
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
    List<LabJobs.Job> quick =
        LabJobs.expand(
            p, new LabJobs.Options(tmp.resolve("out"), tmp, true, List.of(1), List.of()));
    assertEquals(3 + 2, quick.size()); // setting a only, one seed
    assertEquals(
        List.of("lab", "bandit-data", "--out", "{out}", "--sft-lines", "10"), quick.get(0).argv());
    assertTrue(quick.get(3).argv().contains("online.iterations=3"));
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
    LabJobs.Job run = jobs.get(3);
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
        LabJobs.resolve(jobs.get(4), tmp, Map.of("ref", tmp, "pairs-a", tmp)).get(9));
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
                "      data: {run: [lab, bandit-data, --out, '{out}'], quick: [--sft-lines, '10']}",
                "      data: {quick: [--sft-lines, '10']}"));
    e = assertThrows(IllegalArgumentException.class, () -> LabPlan.load(h));
    assertTrue(e.getMessage().contains("a step needs 'run'"), e.getMessage());
  }

  @Test
  void theShippedPlanLoadsAndItsQuickSubsetIsSmaller() throws Exception {
    LabPlan p = LabPlan.load(Path.of("recipes/paper/lab.yaml"));
    assertEquals(
        List.of("bandit", "bandit-tokens", "length", "toy"), List.copyOf(p.experiments().keySet()));
    int full =
        LabJobs.expand(
                p,
                new LabJobs.Options(
                    tmp, Path.of("recipes/paper"), false, List.of(1, 2, 3), List.of()))
            .size();
    int quick =
        LabJobs.expand(
                p, new LabJobs.Options(tmp, Path.of("recipes/paper"), true, List.of(1), List.of()))
            .size();
    assertTrue(quick * 4 < full, quick + " vs " + full);
    for (LabPlan.Experiment e : p.experiments().values()) {
      for (LabPlan.Group g : e.groups().values()) {
        assertTrue(Files.isRegularFile(Path.of("recipes/paper").resolve(g.recipe())), g.recipe());
      }
    }
  }
}
