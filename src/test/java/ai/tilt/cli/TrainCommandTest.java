package ai.tilt.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.runtime.ChildJvm;
import ai.tilt.train.Checkpoints;
import ai.tilt.train.Trainer;
import ai.tilt.train.TrainerState;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tilt train} as a user runs it: in-process, and as a process stopped by SIGTERM. */
class TrainCommandTest {
  @TempDir Path tmp;

  record Run(int code, String err) {}

  /**
   * Runs the root command, capturing picocli's error writer and System.err (the trainer's console).
   */
  static Run run(String... args) {
    java.io.PrintStream saved = System.err;
    java.io.ByteArrayOutputStream console = new java.io.ByteArrayOutputStream();
    System.setErr(new java.io.PrintStream(console, true));
    StringWriter err = new StringWriter();
    try {
      picocli.CommandLine cl = Main.commandLine();
      cl.setErr(new PrintWriter(err, true));
      int code = cl.execute(args);
      return new Run(code, err + console.toString());
    } finally {
      System.setErr(saved);
    }
  }

  static long lines(Path f) throws IOException {
    return Files.exists(f)
        ? Files.readAllLines(f).stream().filter(l -> l.endsWith("}")).count()
        : 0;
  }

  @Test
  void trainsWritesEverythingAndRefusesToOverwrite() throws IOException {
    Path dir = tmp.resolve("run");
    Run r =
        run(
            "train",
            "recipes/sft-tiny.yaml",
            "--run-dir",
            dir.toString(),
            "--set",
            "train.max_steps=6",
            "--set",
            "checkpoint.every_steps=3",
            "--set",
            "eval.every_steps=3");
    assertEquals(0, r.code(), r.err());
    for (String f :
        new String[] {
          "metrics.jsonl",
          "summary.json",
          "plots/loss.png",
          "step-000006/model.safetensors",
          "step-000006/tokenizer.json",
          "step-000006/optimizer.safetensors",
          "step-000006/recipe.yaml"
        }) {
      assertTrue(Files.exists(dir.resolve(f)), f);
    }
    assertEquals(6 + 2, lines(dir.resolve("metrics.jsonl"))); // 6 steps + evals at 3 and 6
    Run again =
        run(
            "train",
            "recipes/sft-tiny.yaml",
            "--run-dir",
            dir.toString(),
            "--set",
            "train.max_steps=6");
    assertEquals(1, again.code());
    assertTrue(again.err().contains("--resume"), again.err());
    // the checkpoint is a model tilt generate can load
    Run gen =
        run(
            "generate",
            "--model",
            dir.resolve("step-000006").toString(),
            "--prompt",
            "Count from 3:",
            "--max-new-tokens",
            "4",
            "--greedy");
    assertEquals(0, gen.code(), gen.err());
  }

  @Test
  void divergingRunStopsWithACheckpoint() throws IOException {
    Path dir = tmp.resolve("nan");
    // lr 1e30 sends the weights to ~1e30 on the first update, after which every loss is NaN/Inf
    Run r =
        run(
            "train",
            "recipes/sft-tiny.yaml",
            "--run-dir",
            dir.toString(),
            "--set",
            "train.max_steps=50",
            "--set",
            "train.lr=1e30",
            "--set",
            "train.min_lr=0",
            "--set",
            "train.warmup_steps=0",
            "--set",
            "train.max_grad_norm=0",
            "--set",
            "train.max_bad_steps=3",
            "--set",
            "data.eval=null");
    assertEquals(Trainer.EXIT_DIVERGED, r.code(), r.err());
    Path ckpt = Checkpoints.findLatest(dir, new ArrayList<>());
    TrainerState s = TrainerState.read(ckpt.resolve("trainer_state.json"));
    assertEquals(3, s.badSteps());
    assertEquals(0, s.badStreak()); // a resume starts a fresh streak
    assertEquals(4, s.step()); // one applied step, then three skipped ones
    assertTrue(
        Files.readString(dir.resolve("metrics.jsonl")).contains("\"train/skipped_steps\":3.0"));
    assertTrue(r.err().contains("--set train.lr="), r.err());
    // the advice works: a resume with another learning rate is accepted and logged
    Run again =
        run(
            "train",
            "recipes/sft-tiny.yaml",
            "--run-dir",
            dir.toString(),
            "--resume",
            "--set",
            "train.max_steps=6",
            "--set",
            "train.lr=1e-3",
            "--set",
            "train.min_lr=0",
            "--set",
            "train.warmup_steps=0",
            "--set",
            "train.max_grad_norm=0",
            "--set",
            "train.max_bad_steps=3",
            "--set",
            "data.eval=null");
    assertTrue(again.err().contains("train.lr: 1.0E30 -> 0.001"), again.err());
  }

  @Test
  void resumingFromAnOlderCheckpointSetsTheNewerOnesAside() throws IOException {
    Path dir = tmp.resolve("branch");
    String[] common = {
      "--run-dir",
      dir.toString(),
      "--set",
      "checkpoint.every_steps=2",
      "--set",
      "checkpoint.keep_last=0",
      "--set",
      "data.eval=null",
      "--set",
      "train.max_steps=6"
    };
    assertEquals(0, run(concat(new String[] {"train", "recipes/sft-tiny.yaml"}, common)).code());
    assertEquals(List.of("step-000006", "step-000004", "step-000002"), names(dir));
    // go back to step 4: the old branch's step 6 must neither be resumed from later nor deleted
    Run again =
        run(
            concat(
                new String[] {
                  "train",
                  "recipes/sft-tiny.yaml",
                  "--resume",
                  dir.resolve("step-000004").toString()
                },
                common));
    assertEquals(0, again.code(), again.err());
    assertTrue(again.err().contains("set aside"), again.err());
    assertEquals(List.of("step-000006", "step-000004", "step-000002"), names(dir));
    try (var s = Files.list(dir)) {
      assertEquals(
          1, s.filter(p -> p.getFileName().toString().startsWith("abandoned-step-000006")).count());
    }
    assertEquals("step-000006", Files.readString(dir.resolve("latest")).trim());
    // metrics.jsonl holds each step once: the resumed branch replaced steps 5 and 6
    assertEquals(6, lines(dir.resolve("metrics.jsonl")));
  }

  static List<String> names(Path dir) throws IOException {
    return Checkpoints.stepDirs(dir).stream().map(p -> p.getFileName().toString()).toList();
  }

  static String[] concat(String[] a, String[] b) {
    String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  @Test
  void sigtermWritesACheckpointAndResumeContinues() throws Exception {
    Path dir = tmp.resolve("preempted");
    ProcessBuilder pb =
        ChildJvm.builder(
            List.of(),
            List.of(
                "train",
                "recipes/sft-tiny.yaml",
                "--run-dir",
                dir.toString(),
                "--set",
                "train.max_steps=100000",
                "--set",
                "checkpoint.every_steps=0",
                "--set",
                "data.eval=null"));
    pb.redirectErrorStream(true);
    pb.redirectOutput(tmp.resolve("log.txt").toFile());
    Process p = pb.start();
    long deadline = System.currentTimeMillis() + 120_000;
    while (lines(dir.resolve("metrics.jsonl")) < 3
        && System.currentTimeMillis() < deadline
        && p.isAlive()) {
      Thread.sleep(100);
    }
    assertTrue(p.isAlive(), Files.readString(tmp.resolve("log.txt")));
    p.destroy(); // SIGTERM
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    String log = Files.readString(tmp.resolve("log.txt"));
    assertEquals(Trainer.EXIT_STOPPED, p.exitValue(), log);
    assertTrue(log.contains("--resume"), log);
    Path ckpt = Checkpoints.findLatest(dir, new ArrayList<>());
    assertNull(Checkpoints.incompleteReason(ckpt));
    long stoppedAt = TrainerState.read(ckpt.resolve("trainer_state.json")).step();
    assertTrue(stoppedAt >= 3);
    assertEquals(stoppedAt, lines(dir.resolve("metrics.jsonl")));
    // the resume runs as a process too, so what libtorch itself prints is seen
    ProcessBuilder again =
        ChildJvm.builder(
            List.of(),
            List.of(
                "train",
                "recipes/sft-tiny.yaml",
                "--run-dir",
                dir.toString(),
                "--resume",
                "--set",
                "train.max_steps=" + (stoppedAt + 2),
                "--set",
                "checkpoint.every_steps=0",
                "--set",
                "data.eval=null"));
    again.redirectErrorStream(true);
    again.redirectOutput(tmp.resolve("resume.txt").toFile());
    Process q = again.start();
    assertTrue(q.waitFor(120, TimeUnit.SECONDS));
    String resumeLog = Files.readString(tmp.resolve("resume.txt"));
    assertEquals(0, q.exitValue(), resumeLog);
    assertEquals(stoppedAt + 2, lines(dir.resolve("metrics.jsonl")));
    // loading the optimizer state used to make libtorch warn on the console of every resume
    assertFalse(resumeLog.contains("AutoNonVariableTypeMode"), resumeLog);
    assertFalse(resumeLog.contains("Warning:"), resumeLog);
  }

  /**
   * A resumed run whose checkpoint is pruned later still writes self-contained checkpoints: the
   * tokenizer and config files were read when the run started, not copied from the pruned directory
   * when each checkpoint is written.
   */
  @Test
  void checkpointsStaySelfContainedAfterTheResumedFromOneIsPruned() throws IOException {
    Path dir = tmp.resolve("pruned");
    String[] common = {
      "--run-dir",
      dir.toString(),
      "--set",
      "checkpoint.every_steps=2",
      "--set",
      "checkpoint.keep_last=2",
      "--set",
      "data.eval=null"
    };
    String[] first = {"train", "recipes/sft-tiny.yaml", "--set", "train.max_steps=4"};
    assertEquals(0, run(concat(first, common)).code());
    String[] resume = {"train", "recipes/sft-tiny.yaml", "--resume", "--set", "train.max_steps=10"};
    Run r = run(concat(resume, common));
    assertEquals(0, r.code(), r.err());
    assertEquals(List.of("step-000010", "step-000008"), names(dir)); // step 4 is gone
    Path last = dir.resolve("step-000010");
    for (String f : new String[] {"tokenizer.json", "tokenizer_config.json", "config.json"}) {
      assertTrue(Files.exists(last.resolve(f)), f + " in " + last);
      assertArrayEquals(
          Files.readAllBytes(dir.resolve("init-model").resolve(f)),
          Files.readAllBytes(last.resolve(f)),
          f);
    }
    // and the next resume of this text recipe finds its tokenizer there
    String[] more = {"train", "recipes/sft-tiny.yaml", "--resume", "--set", "train.max_steps=12"};
    Run r2 = run(concat(more, common));
    assertEquals(0, r2.code(), r2.err());
  }
}
