package ai.tilt.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.runtime.ChildJvm;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lab end to end at CI size: one bandit setting, two methods, one seed, each job a child JVM;
 * then the report, a rerun that only reuses finished jobs, and a broken experiment whose runs are
 * skipped while the rest still runs.
 */
class LabRunTest {
  @TempDir Path tmp;

  static final String PLAN =
      String.join(
          "\n",
          "experiments:",
          "  bandit:",
          "    title: smoke",
          "    steps:",
          "      data: {run: [lab, bandit-data, --out, '{out}', --seed, '{seed}', --sft-lines, '500', --offline-prompts, '10']}",
          "      reference: {run: [train, '{recipes}/bandit-reference.yaml', --run-dir, '{out}', --set, 'data.train={data}/sft.jsonl',"
              + " --set, train.max_steps=40, --set, 'seed={seed}']}",
          "    groups:",
          "      main:",
          "        recipe: bandit.yaml",
          "        set: ['model.path={reference}', 'data.train={data}/prompts.jsonl', 'data.eval={data}/eval.jsonl',"
              + " online.iterations=6, eval.every_steps=4]",
          "        settings: {far: ['online.reward.center=70']}",
          "        methods:",
          "          dpo: ['loss={type: dpo, beta: 0.1}']",
          "          offline-dpo: ['loss={type: dpo, beta: 0.1}', online.source=offline, 'data.train={data}/offline-p10.jsonl']",
          "  broken:",
          "    steps:",
          "      reference: {run: [train, '{recipes}/no-such-recipe.yaml', --run-dir, '{out}'], seedless: true}",
          "    groups:",
          "      main: {recipe: bandit.yaml, methods: {dpo: []}}",
          "");

  @Test
  void runsReportsResumesAndSkipsWhatCannotRun() throws Exception {
    Path planDir = Path.of("recipes/paper").toAbsolutePath();
    Path planFile = Files.writeString(tmp.resolve("lab.yaml"), PLAN);
    LabPlan plan = LabPlan.load(planFile);
    LabJobs.Options o =
        new LabJobs.Options(tmp.resolve("out"), planDir, true, List.of(1), List.of());
    List<LabJobs.Job> jobs = LabJobs.expand(plan, o);
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    Map<String, LabRunner.Outcome> first =
        new LabRunner(jobs, planDir, 1, 1, false, new PrintStream(log)).run();
    String console = log.toString();
    assertEquals(LabRunner.Outcome.RAN, first.get("bandit/main/far/dpo/seed-1"), console);
    assertEquals(LabRunner.Outcome.RAN, first.get("bandit/main/far/offline-dpo/seed-1"), console);
    assertEquals(LabRunner.Outcome.FAILED, first.get("broken/steps/reference"), console);
    assertEquals(LabRunner.Outcome.SKIPPED, first.get("broken/main/default/dpo/seed-1"), console);
    assertTrue(
        console.contains("no-such-recipe.yaml"), console); // the failure shows the end of its log
    Path run = tmp.resolve("out/bandit/main/far/dpo/seed-1");
    assertTrue(Files.exists(run.resolve("metrics.jsonl")));
    assertTrue(Checkpoints(run).isEmpty(), "a finished run keeps its metrics, not its weights");

    Path report = new LabReport(plan, o, jobs, "./tilt lab run --quick").write();
    String md = Files.readString(report);
    assertTrue(md.matches("(?s).*\\| dpo \\| -?[0-9.]+ \\[\\d+\\] \\|.*"), md);
    assertTrue(md.contains("| offline-dpo |"), md);
    assertTrue(md.contains("C4: "), md);
    assertTrue(Files.size(tmp.resolve("out/figures/bandit-main-far.png")) > 1000);
    assertTrue(
        Files.readString(tmp.resolve("out/commands.sh"))
            .contains("./tilt train " + planDir + "/bandit.yaml"));

    // a job run in a worker JVM, after other jobs ran in that JVM, gives what a fresh JVM gives, to
    // the last bit (one worker: the reference and the runs share a JVM; the broken step, which
    // retires its worker, runs before the reference ends)
    List<String> argv = new ArrayList<>();
    new ObjectMapper()
        .readTree(run.resolve(LabRunner.DONE).toFile())
        .get("argv")
        .forEach(a -> argv.add(a.asText()));
    Path alone = tmp.resolve("alone");
    argv.set(argv.indexOf("--run-dir") + 1, alone.toString());
    Process fresh =
        ChildJvm.builder(List.of("-Dtilt.threads=1", "-XX:+UseSerialGC"), argv)
            .redirectErrorStream(true)
            .redirectOutput(tmp.resolve("alone.log").toFile())
            .start();
    assertEquals(0, fresh.waitFor(), Files.readString(tmp.resolve("alone.log")));
    List<Map<String, Object>> inWorker = withoutTimings(run.resolve("metrics.jsonl"));
    assertTrue(inWorker.size() > 3, inWorker.toString());
    assertEquals(inWorker, withoutTimings(alone.resolve("metrics.jsonl")));

    Map<String, LabRunner.Outcome> again =
        new LabRunner(jobs, planDir, 2, 1, false, new PrintStream(log)).run();
    assertEquals(LabRunner.Outcome.CACHED, again.get("bandit/steps/reference/seed-1"));
    assertEquals(LabRunner.Outcome.CACHED, again.get("bandit/main/far/dpo/seed-1"));
    // a changed command reruns its job (and only it)
    LabPlan changed =
        LabPlan.load(
            Files.writeString(
                tmp.resolve("lab2.yaml"),
                PLAN.replace("online.iterations=6", "online.iterations=4")));
    List<LabJobs.Job> jobs2 = LabJobs.expand(changed, o);
    Map<String, LabRunner.Outcome> third =
        new LabRunner(jobs2, planDir, 2, 1, false, new PrintStream(log)).run();
    assertEquals(LabRunner.Outcome.CACHED, third.get("bandit/steps/reference/seed-1"));
    assertEquals(LabRunner.Outcome.RAN, third.get("bandit/main/far/dpo/seed-1"));
    long evals =
        Files.readAllLines(run.resolve("metrics.jsonl")).stream()
            .filter(l -> l.contains("eval/reward"))
            .count();
    assertEquals(3, evals); // iterations 0, 2, 4: the rerun started afresh

    // a step that finished after a run (it reran: its inputs changed) makes the run stale, though
    // the run's command line, which names the step's directory, is the same
    Path refMarker = tmp.resolve("out/bandit/steps/reference/seed-1").resolve(LabRunner.DONE);
    String m = Files.readString(refMarker);
    Files.writeString(
        refMarker,
        m.replaceAll(
            "\"finished_at\":\"[^\"]*\"",
            "\"finished_at\":\"" + java.time.Instant.now().plusSeconds(3600) + "\""));
    Map<String, LabRunner.Outcome> fourth =
        new LabRunner(jobs2, planDir, 2, 1, false, new PrintStream(log)).run();
    assertEquals(LabRunner.Outcome.CACHED, fourth.get("bandit/steps/reference/seed-1"));
    assertEquals(LabRunner.Outcome.RAN, fourth.get("bandit/main/far/dpo/seed-1"));
  }

  @Test
  void aJobThatFailsInAReusedWorkerRunsOnceMoreInAFreshOne() throws Exception {
    String plan =
        String.join(
            "\n",
            "experiments:",
            "  x:",
            "    steps:",
            "      first: {run: [data, synth, --task, length, --n, '5', --out, '{out}/train.jsonl',"
                + " --eval-out, '{out}/eval.jsonl', --eval-n, '5', --seed, '1'], seedless: true}",
            "      broken: {run: [train, '{recipes}/no-such-recipe.yaml', --run-dir, '{out}', --set,"
                + " 'data.train={first}/train.jsonl'], seedless: true}",
            "    groups:",
            "      main: {recipe: bandit.yaml, methods: {dpo: []}}",
            "");
    Path planDir = Path.of("recipes/paper").toAbsolutePath();
    LabPlan p = LabPlan.load(Files.writeString(tmp.resolve("retry.yaml"), plan));
    LabJobs.Options o =
        new LabJobs.Options(tmp.resolve("retry"), planDir, true, List.of(1), List.of());
    ByteArrayOutputStream console = new ByteArrayOutputStream();
    // one worker: the broken step runs in the JVM that ran the first one
    Map<String, LabRunner.Outcome> out =
        new LabRunner(LabJobs.expand(p, o), planDir, 1, 1, false, new PrintStream(console)).run();
    assertEquals(LabRunner.Outcome.RAN, out.get("x/steps/first"), console.toString());
    assertEquals(LabRunner.Outcome.FAILED, out.get("x/steps/broken"), console.toString());
    String log = Files.readString(tmp.resolve("retry/x/steps/broken/lab.log"));
    assertTrue(log.contains("once more in a fresh one"), log);
    assertEquals(2, count(log, "$ tilt train"), log);
    assertEquals(4, count(log, "no-such-recipe.yaml"), log); // each run: its command, its error
  }

  private static int count(String text, String part) {
    int n = 0;
    for (int at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + 1)) {
      n++;
    }
    return n;
  }

  /** A run's metrics lines without what measures time (and so differs run to run). */
  private static List<Map<String, Object>> withoutTimings(Path metrics) throws Exception {
    ObjectMapper json = new ObjectMapper();
    List<Map<String, Object>> out = new ArrayList<>();
    for (String line : Files.readAllLines(metrics)) {
      Map<String, Object> m = json.readValue(line, new TypeReference<Map<String, Object>>() {});
      m.keySet().removeIf(k -> k.startsWith("timing/") || k.startsWith("perf/"));
      out.add(m);
    }
    return out;
  }

  @Test
  void aRunsFingerprintHashesTheFilesItNames(@org.junit.jupiter.api.io.TempDir Path dir)
      throws Exception {
    Path recipe = Files.writeString(dir.resolve("r.yaml"), "name: a\n");
    Path data = Files.writeString(dir.resolve("d.jsonl"), "{}\n");
    Path own = Files.createDirectories(dir.resolve("job"));
    Path output = Files.writeString(own.resolve("pairs.jsonl"), "{}\n");
    List<String> argv =
        List.of(
            "train",
            recipe.toString(),
            "--set",
            "data.train=" + data,
            "--set",
            "x={a: 1}",
            "--out",
            output.toString());
    var before = JobFiles.hashes(argv, own);
    // a file alone and one as a --set value; not the job's own output, which exists only after it
    // ran (hashing it would make every finished step look changed)
    assertEquals(2, before.size(), before.toString());
    Files.writeString(recipe, "name: b\n");
    assertTrue(!before.equals(JobFiles.hashes(argv, own)), "an edited recipe changes the hash");
  }

  private static List<Path> Checkpoints(Path run) throws java.io.IOException {
    return ai.tilt.train.Checkpoints.stepDirs(run);
  }
}
