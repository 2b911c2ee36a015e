package ai.tilt.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ai.tilt.model.SafetensorsReader;
import ai.tilt.runtime.ChildJvm;
import ai.tilt.train.Checkpoints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Data-parallel training end to end: real {@code tilt train --nproc N} jobs of the tiny preset,
 * Gloo on loopback, one intra-op thread per worker, fp32. Needs libtilt_dist.so ({@code
 * scripts/test-dist.sh} builds it against the machine's torch wheel and runs these; {@code .ci/run}
 * calls that script), so it is tagged {@code dist} and left out of the plain {@code mvn test}.
 */
@Tag("dist")
class DataParallelTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  @BeforeAll
  static void needsTheLibrary() {
    String lib = C10dGroup.libraryPath();
    if (lib == null || !Files.isRegularFile(Path.of(lib))) {
      fail(
          "the dist tests need libtilt_dist.so (TILT_DIST_LIBRARY): run scripts/test-dist.sh,"
              + " which builds it against the machine's torch wheel");
    }
  }

  /** A finished job: its exit code and what its workers printed. */
  record Job(int exit, String log) {}

  private Job tilt(List<String> args, String... jvmFlags) throws Exception {
    return tilt(Map.of(), args, jvmFlags);
  }

  private Job tilt(Map<String, String> env, List<String> args, String... jvmFlags)
      throws Exception {
    Path log = Files.createTempFile(tmp, "job", ".log");
    ProcessBuilder pb = ChildJvm.builder(List.of(jvmFlags), args);
    pb.environment().put("TILT_THREADS", "1");
    pb.environment().putAll(env);
    pb.redirectErrorStream(true).redirectOutput(log.toFile());
    Process p = pb.start();
    if (!p.waitFor(8, TimeUnit.MINUTES)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      fail("the job did not end within 8 minutes: " + Files.readString(log));
    }
    return new Job(p.exitValue(), Files.readString(log));
  }

  private static List<String> train(String recipe, Path runDir, int nproc, String... sets) {
    List<String> a = new ArrayList<>(List.of("train", recipe, "--run-dir", runDir.toString()));
    if (nproc > 0) {
      a.addAll(List.of("--nproc", Integer.toString(nproc)));
    }
    for (String s : sets) {
      a.addAll(List.of("--set", s));
    }
    return a;
  }

  private Job ok(List<String> args, String... jvmFlags) throws Exception {
    Job j = tilt(args, jvmFlags);
    assertEquals(0, j.exit(), j.log());
    return j;
  }

  /** train/loss by step, from a run's metrics.jsonl. */
  private static Map<Long, Double> losses(Path runDir) throws IOException {
    Map<Long, Double> out = new LinkedHashMap<>();
    for (String line : Files.readAllLines(runDir.resolve("metrics.jsonl"))) {
      JsonNode n = JSON.readTree(line);
      if (n.has("train/loss")) {
        out.put(n.get("step").asLong(), n.get("train/loss").asDouble());
      }
    }
    return out;
  }

  /** Every weight of a checkpoint (its adapters, under LoRA). */
  private static Map<String, float[]> weights(Path checkpoint) throws IOException {
    Map<String, float[]> out = new LinkedHashMap<>();
    Path adapters = checkpoint.resolve("adapter_model.safetensors");
    try (SafetensorsReader r =
        SafetensorsReader.open(Files.exists(adapters) ? adapters : checkpoint)) {
      for (String name : r.tensors().keySet()) {
        out.put(name, r.loadFloats(name));
      }
    }
    return out;
  }

  private static void closeLosses(Map<Long, Double> want, Map<Long, Double> got, double rel) {
    assertEquals(want.keySet(), got.keySet());
    for (Map.Entry<Long, Double> e : want.entrySet()) {
      double w = e.getValue();
      double g = got.get(e.getKey());
      assertTrue(
          Math.abs(w - g) <= rel * Math.max(1e-12, Math.abs(w)),
          "step " + e.getKey() + ": " + w + " vs " + g);
    }
  }

  private static double maxDiff(Map<String, float[]> a, Map<String, float[]> b) {
    assertEquals(a.keySet(), b.keySet());
    double max = 0;
    for (String k : a.keySet()) {
      float[] x = a.get(k);
      float[] y = b.get(k);
      assertEquals(x.length, y.length, k);
      for (int i = 0; i < x.length; i++) {
        max = Math.max(max, Math.abs(x[i] - y[i]));
      }
    }
    return max;
  }

  private static final String[] SFT = {"train.max_steps=5", "data.eval=null"};

  /** (a) One worker through c10d is the plain run, bit for bit. */
  @Test
  void oneWorkerThroughTheDistributedPathIsThePlainRun() throws Exception {
    ok(train("recipes/sft-tiny.yaml", tmp.resolve("plain"), 0, SFT));
    Job one = ok(train("recipes/sft-tiny.yaml", tmp.resolve("one"), 1, SFT));
    assertTrue(one.log().contains("data-parallel: 1 workers"), one.log());
    assertEquals(losses(tmp.resolve("plain")), losses(tmp.resolve("one")));
    Map<String, float[]> a = weights(tmp.resolve("plain/step-000005"));
    Map<String, float[]> b = weights(tmp.resolve("one/step-000005"));
    for (String k : a.keySet()) {
      assertArrayEquals(a.get(k), b.get(k), k);
    }
  }

  /**
   * (b) Two workers with the same global batch are one worker, bit for bit, for SFT, DPO, GRPO and
   * PPO: every step's loss and the weights after 5 steps. Each worker's block of a step is one of
   * the one-process run's micro-batches (the recipes' sizes make it so), so the same forwards run
   * and only the two gradients' sum is taken by the all-reduce instead of by autograd, which is the
   * same sum for two terms. (The issue asked for 1e-6 and 1e-5; equality is what holds.)
   */
  @Test
  void twoWorkersTrainAsOne() throws Exception {
    // name -> the recipe, then its --set overrides
    Map<String, String[]> cases = new LinkedHashMap<>();
    cases.put("sft", new String[] {"recipes/sft-tiny.yaml", "train.max_steps=5", "data.eval=null"});
    cases.put(
        "dpo", new String[] {"recipes/dpo-offline.yaml", "train.max_steps=5", "data.eval=null"});
    // LoRA dropout: each worker draws the masks one process draws for its micro-batches; the
    // reference log-probs precomputed by rank 0 and read by rank 1
    cases.put(
        "dpo-lora-dropout-precomputed",
        new String[] {
          "recipes/dpo-offline.yaml",
          "train.max_steps=5",
          "data.eval=null",
          "model.lora={rank: 4, dropout: 0.3}",
          "model.precompute_reference=true"
        });
    // 8 prompts: micro-batches of 4, so each worker's block is one of one process's micro-batches
    String[] online = {
      "online.iterations=5",
      "data.eval=null",
      "model.init.sft.steps=20",
      "eval.every_steps=0",
      "train.micro_batch_size=4"
    };
    cases.put("grpo", with("recipes/online-grpo.yaml", online));
    cases.put("ppo", with("recipes/online-ppo.yaml", online));
    // DAPO's and Dr. GRPO's knobs: a reward list's parts and dynamic sampling's extra rounds are
    // gathered from both workers, and the step's denominator is the global one
    List<String> dapo = new ArrayList<>(List.of(online));
    dapo.addAll(
        List.of(
            "online.reward=[{type: min_length, weight: 0.5}, {type: overlong, max_length: 24,"
                + " buffer: 8}]",
            "online.dynamic_sampling={max_extra_rounds: 2}",
            "online.mask_truncated_completions=true",
            "loss.importance_sampling_level=sequence",
            "train.loss_normalization=seq_mean_token_sum_norm"));
    cases.put("grpo-dapo", with("recipes/online-grpo.yaml", dapo.toArray(new String[0])));
    for (Map.Entry<String, String[]> c : cases.entrySet()) {
      String name = c.getKey();
      String recipe = c.getValue()[0];
      String[] sets = java.util.Arrays.copyOfRange(c.getValue(), 1, c.getValue().length);
      Path one = tmp.resolve(name + "-1");
      Path two = tmp.resolve(name + "-2");
      ok(train(recipe, one, 1, sets));
      Job job = ok(train(recipe, two, 2, sets));
      if (name.contains("precomputed")) {
        // rank 0 computed them; rank 1 only reads (a missing split would have failed it)
        assertTrue(job.log().contains("train groups computed in"), job.log());
      }
      assertEquals(losses(one), losses(two), name);
      Path last1 = Checkpoints.findLatest(one, new ArrayList<>());
      Path last2 = Checkpoints.findLatest(two, new ArrayList<>());
      assertEquals(last1.getFileName(), last2.getFileName());
      assertEquals(0.0, maxDiff(weights(last1), weights(last2)), name);
    }
  }

  private static String[] with(String first, String[] rest) {
    String[] out = new String[rest.length + 1];
    out[0] = first;
    System.arraycopy(rest, 0, out, 1, rest.length);
    return out;
  }

  /**
   * (c) ZeRO-1 trains as plain data parallelism and saves the same moments. Three workers as well
   * as two: on Gloo the reduce-scatter and the all-gather are Tilt's rings over send and receive,
   * whose every step (and slice arithmetic) only a ring of more than two shows; at three the slices
   * go round in pieces of 4 KiB, a shorter one last (the tiny model's 0.7 MB would be one piece).
   */
  @ParameterizedTest
  @ValueSource(ints = {2, 3})
  void zeroOneEqualsPlainDataParallelism(int workers) throws Exception {
    ok(train("recipes/sft-tiny.yaml", tmp.resolve("ddp"), workers, SFT));
    String[] zero = {"train.max_steps=5", "data.eval=null", "train.zero=1"};
    Map<String, String> pieces = workers == 3 ? Map.of("TILT_RING_PIECE_BYTES", "4096") : Map.of();
    Job z = tilt(pieces, train("recipes/sft-tiny.yaml", tmp.resolve("zero"), workers, zero));
    assertEquals(0, z.exit(), z.log());
    closeLosses(losses(tmp.resolve("ddp")), losses(tmp.resolve("zero")), 1e-6);
    assertTrue(
        maxDiff(weights(tmp.resolve("ddp/step-000005")), weights(tmp.resolve("zero/step-000005")))
            <= 1e-5);
    Map<String, float[]> m1 = optimizer(tmp.resolve("ddp/step-000005"));
    Map<String, float[]> m2 = optimizer(tmp.resolve("zero/step-000005"));
    assertTrue(maxDiff(m1, m2) <= 1e-6, "the gathered moments are the replicated ones");
  }

  private static Map<String, float[]> optimizer(Path checkpoint) throws IOException {
    return weights(checkpoint.resolve("optimizer.safetensors"));
  }

  /**
   * (d) A checkpoint does not depend on the number of workers: 3 steps at W=2 then 3 at W=1 equal 6
   * at W=1, and 3 at W=1 (ZeRO-1 there) then 3 at W=2 equal 6 at W=2.
   */
  @Test
  void aRunResumesWithAnotherNumberOfWorkers() throws Exception {
    String[] six = {"train.max_steps=6", "data.eval=null", "checkpoint.every_steps=3"};
    ok(train("recipes/sft-tiny.yaml", tmp.resolve("w1"), 1, six));
    ok(train("recipes/sft-tiny.yaml", tmp.resolve("w2"), 2, six));
    // 2 -> 1: resume W=2's step 3 at W=1
    List<String> resume = train("recipes/sft-tiny.yaml", tmp.resolve("w2"), 1, six);
    resume.add("--resume=" + tmp.resolve("w2/step-000003"));
    ok(resume);
    assertEquals(losses(tmp.resolve("w1")), losses(tmp.resolve("w2"))); // aligned blocks: exact
    assertEquals(
        0.0,
        maxDiff(weights(tmp.resolve("w1/step-000006")), weights(tmp.resolve("w2/step-000006"))));
    // 1 -> 2, the first part with sharded moments
    String[] sixZero = {
      "train.max_steps=6", "data.eval=null", "checkpoint.every_steps=3", "train.zero=1"
    };
    ok(train("recipes/sft-tiny.yaml", tmp.resolve("z1"), 1, sixZero));
    List<String> resume2 = train("recipes/sft-tiny.yaml", tmp.resolve("z1"), 2, six);
    resume2.add("--resume=" + tmp.resolve("z1/step-000003"));
    Job j = ok(resume2);
    assertTrue(j.log().contains("resuming with train.zero: 1 -> 0"), j.log());
    ok(train("recipes/sft-tiny.yaml", tmp.resolve("w2b"), 2, six));
    closeLosses(losses(tmp.resolve("w2b")), losses(tmp.resolve("z1")), 1e-6);
    assertTrue(
        maxDiff(weights(tmp.resolve("w2b/step-000006")), weights(tmp.resolve("z1/step-000006")))
            <= 1e-5);
  }

  /**
   * (e) A worker killed with -9 ends the job quickly, naming it, with every checkpoint on disk
   * complete; --resume auto then finishes the run as if nothing had happened.
   */
  @Test
  void aKilledWorkerEndsTheJobAndAResumeFinishesIt() throws Exception {
    String[] sets = {
      "train.max_steps=40",
      "data.eval=null",
      "checkpoint.every_steps=2",
      "dist.timeout_s=60",
      "checkpoint.keep_last=0"
    };
    ok(train("recipes/sft-tiny.yaml", tmp.resolve("whole"), 2, sets));
    Path dir = tmp.resolve("killed");
    Path log = tmp.resolve("killed.log");
    Process launcher = startSft(dir, log, sets);
    waitForSteps(dir, 5, launcher, log);
    List<ProcessHandle> workers = launcher.toHandle().children().toList();
    assertEquals(2, workers.size(), "two workers: " + workers);
    long t0 = System.nanoTime();
    new ProcessBuilder("kill", "-9", Long.toString(workers.get(1).pid())).start().waitFor();
    assertTrue(launcher.waitFor(90, TimeUnit.SECONDS), "the job ended after the kill");
    double seconds = (System.nanoTime() - t0) / 1e9;
    String out = Files.readString(log);
    assertNotEquals(0, launcher.exitValue(), out);
    assertTrue(out.contains("tilt: rank 1 of 2 exited with 137; stopping the others"), out);
    assertTrue(seconds < 60, "ended " + seconds + " s after the kill");
    List<Path> steps = Checkpoints.stepDirs(dir);
    assertTrue(!steps.isEmpty(), out);
    for (Path s : steps) {
      assertNull(Checkpoints.incompleteReason(s), s.toString());
    }
    List<String> resume = train("recipes/sft-tiny.yaml", dir, 2, sets);
    resume.add("--resume=auto");
    ok(resume);
    assertEquals(losses(tmp.resolve("whole")), losses(dir));
    assertEquals(
        0.0,
        maxDiff(weights(tmp.resolve("whole/step-000040")), weights(dir.resolve("step-000040"))));
  }

  /**
   * (e') A worker that hangs (alive, stuck outside the collectives) or dies ends the job within the
   * timeout, and the survivors name it, and only it, with its host: after the failed collective
   * they take a roll call through the store, where every worker's watcher answers how many
   * collectives it entered. At 4 workers on Gloo some survivors are still blocked on live ones when
   * the first fails; before the watchers those were named too. At 3 workers with one dead, a
   * survivor still computing its step is behind the one that failed first, and is not named.
   */
  @ParameterizedTest
  @CsvSource({"2, 1, stall", "4, 2, stall", "3, 1, die"})
  void aFailedWorkerAloneIsNamedWithinTheTimeout(int workers, int failed, String how)
      throws Exception {
    long t0 = System.nanoTime();
    Job j =
        tilt(
            train(
                "recipes/sft-tiny.yaml",
                tmp.resolve("failed"),
                workers,
                "train.max_steps=8",
                "data.eval=null",
                "dist.timeout_s=5"),
            "-Dtilt.dist." + how + "=" + failed + "@2");
    double seconds = (System.nanoTime() - t0) / 1e9;
    assertNotEquals(0, j.exit(), j.log());
    List<String> calls = j.log().lines().filter(l -> l.contains("failed (a worker died")).toList();
    assertTrue(!calls.isEmpty(), j.log());
    String blamed =
        how.equals("stall")
            ? "alive but behind, the others waiting on it \\(hung or slow outside the collectives;"
                + " collectives entered, against \\d+\\): rank "
                + failed
                + " on [^,;]+ \\(\\d+\\)$"
            : "no answer to a roll call within 5 s \\(dead, or the whole process frozen\\): rank "
                + failed
                + " on [^,;]+$";
    // every survivor whose roll call reached the store blames the failed worker and no other (one
    // that fails after rank 0, which serves the store, has exited, says it could take none)
    assertTrue(calls.stream().anyMatch(l -> Pattern.compile(blamed).matcher(l).find()), j.log());
    for (String line : calls) {
      Matcher m = Pattern.compile("rank (\\d+) on ").matcher(line);
      while (m.find()) {
        assertEquals(Integer.toString(failed), m.group(1), line);
      }
    }
    // 5 s of timeout, at most 5 of roll call, up to 30 for the launcher to stop a hung worker
    assertTrue(seconds < 90 + 15 * workers, "ended " + seconds + " s after the start");
  }

  /**
   * {@code tilt bench train --nproc 2}: one JSON line whose scaling is the one-worker step over the
   * two-worker step, and whose MFU counts the batch's FLOPs against every worker's peak (it took
   * one worker's, and read above 1 at two workers).
   */
  @Test
  void theDataParallelBenchReportsScalingAndMfuOverEveryWorker() throws Exception {
    Job j =
        ok(
            List.of(
                "bench",
                "train",
                "--preset",
                "tiny",
                "--vocab-size",
                "512",
                "--batch-size",
                "4",
                "--micro-batch-size",
                "2",
                "--prompt-len",
                "8",
                "--completion-len",
                "8",
                "--steps",
                "2",
                "--nproc",
                "2",
                "--rounds",
                "1"));
    String line =
        j.log()
            .lines()
            .filter(l -> l.startsWith("{\"bench\":\"train_data_parallel\""))
            .findFirst()
            .orElseThrow(() -> new AssertionError(j.log()));
    JsonNode out = JSON.readTree(line);
    JsonNode one = out.get("one_worker_one_thread").get(0);
    JsonNode two = out.get("data_parallel").get(0);
    assertEquals(1, one.get("workers").asInt(), line);
    assertEquals(2, two.get("workers").asInt(), line);
    assertEquals(
        one.get("step_s").asDouble() / two.get("step_s").asDouble(),
        out.get("scaling").get(0).asDouble(),
        0.002,
        line);
    for (JsonNode run : List.of(one, two)) {
      double want =
          6.0
              * run.get("params_matmul").asDouble()
              * run.get("tokens_per_s").asDouble()
              / 1e9
              / (run.get("matmul_peak_gflops").asDouble() * run.get("workers").asInt());
      assertEquals(want, run.get("mfu_6n").asDouble(), 0.002 + 0.01 * want, line);
      assertTrue(run.get("mfu_6n").asDouble() < 1.0, line);
    }
  }

  /** A 2-worker SFT job left running, its output in {@code log}. */
  private static Process startSft(Path dir, Path log, String[] sets) throws IOException {
    ProcessBuilder pb = ChildJvm.builder(List.of(), train("recipes/sft-tiny.yaml", dir, 2, sets));
    pb.environment().put("TILT_THREADS", "1");
    return pb.redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  private static void waitForSteps(Path dir, int steps, Process launcher, Path log)
      throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
    while (System.nanoTime() < deadline) {
      Path m = dir.resolve("metrics.jsonl");
      if (Files.exists(m) && Files.readAllLines(m).size() >= steps) {
        return;
      }
      if (!launcher.isAlive()) {
        fail("the job ended early: " + Files.readString(log));
      }
      Thread.sleep(100);
    }
    fail("no " + steps + " steps within 4 minutes: " + Files.readString(log));
  }

  /** (f) SIGTERM to the launcher: one checkpoint, every worker exits 75, a resume finishes. */
  @Test
  void sigtermStopsEveryWorkerWithOneCheckpoint() throws Exception {
    String[] sets = {"train.max_steps=30", "data.eval=null", "checkpoint.every_steps=0"};
    ok(train("recipes/sft-tiny.yaml", tmp.resolve("whole"), 2, sets));
    Path dir = tmp.resolve("stopped");
    Path log = tmp.resolve("stopped.log");
    Process launcher = startSft(dir, log, sets);
    waitForSteps(dir, 4, launcher, log);
    launcher.destroy(); // SIGTERM
    assertTrue(launcher.waitFor(120, TimeUnit.SECONDS));
    String out = Files.readString(log);
    assertEquals(75, launcher.exitValue(), out);
    assertEquals(2, out.split("finishing this step and writing a checkpoint", -1).length - 1, out);
    assertEquals(1, Checkpoints.stepDirs(dir).size(), "one checkpoint: " + out);
    List<String> resume = train("recipes/sft-tiny.yaml", dir, 2, sets);
    resume.add("--resume");
    ok(resume);
    assertEquals(losses(tmp.resolve("whole")), losses(dir));
    assertEquals(
        0.0,
        maxDiff(weights(tmp.resolve("whole/step-000030")), weights(dir.resolve("step-000030"))));
  }

  /**
   * A launcher killed outright (kill -9, the OOM killer) leaves no worker training headless: they
   * notice, stop together at a step and rank 0 writes that step's checkpoint.
   */
  @Test
  void workersStopWhenTheirLauncherIsKilled() throws Exception {
    // far more steps than the minute below allows: only a stop ends it early
    String[] sets = {"train.max_steps=100000", "data.eval=null", "checkpoint.every_steps=0"};
    Path dir = tmp.resolve("orphans");
    Path log = tmp.resolve("orphans.log");
    Process launcher = startSft(dir, log, sets);
    waitForSteps(dir, 3, launcher, log);
    List<ProcessHandle> workers = launcher.toHandle().children().toList();
    assertEquals(2, workers.size(), "two workers: " + workers);
    new ProcessBuilder("kill", "-9", Long.toString(launcher.pid())).start().waitFor();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (workers.stream().anyMatch(ProcessHandle::isAlive) && System.nanoTime() < deadline) {
      Thread.sleep(100);
    }
    boolean orphans = workers.stream().anyMatch(ProcessHandle::isAlive);
    workers.forEach(ProcessHandle::destroyForcibly);
    assertTrue(!orphans, "workers still running 60 s after their launcher died");
    List<Path> steps = Checkpoints.stepDirs(dir);
    assertEquals(1, steps.size(), "the stop's checkpoint: " + steps);
    assertNull(Checkpoints.incompleteReason(steps.get(0)));
    assertNotEquals(dir.resolve(Checkpoints.dirName(100000)), steps.get(0), "a stop, not the end");
  }

  /** (g) A worker whose weights drifted is caught by the guard, which names it and the step. */
  @Test
  void aDivergedWorkerIsCaught() throws Exception {
    Job j =
        tilt(
            train(
                "recipes/sft-tiny.yaml",
                tmp.resolve("drift"),
                2,
                "train.max_steps=8",
                "data.eval=null",
                "dist.check_every=2"),
            "-Dtilt.dist.perturb=1@3");
    assertNotEquals(0, j.exit(), j.log());
    assertTrue(
        j.log().contains("weights differ after step 4") && j.log().contains("rank 1 (sum"),
        j.log());
  }
}
