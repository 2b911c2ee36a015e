package ai.tilt.data;

import static ai.tilt.data.DataCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.data.DataCommandTest.Run;
import ai.tilt.data.PreferenceSynth.PrefTask;
import ai.tilt.data.SynthData.Format;
import ai.tilt.data.SynthData.Kind;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tilt data synth --kind pairs|unpaired|lists} end to end through picocli. */
class PreferenceDataCommandTest {
  @TempDir Path tmp;

  @Test
  void pairsWithHeldOutEvalAreTheGeneratorsLines() throws IOException {
    Path a = tmp.resolve("p.jsonl");
    Path ev = tmp.resolve("p-eval.jsonl");
    Run r =
        run(
            "synth",
            "--kind",
            "pairs",
            "--task",
            "mixed",
            "--n",
            "300",
            "--seed",
            "4",
            "--out",
            a.toString(),
            "--eval-out",
            ev.toString(),
            "--eval-n",
            "40");
    assertEquals(0, r.code(), r.err());
    assertEquals("wrote 300 lines to " + a + "\nwrote 40 lines to " + ev + "\n", r.out());
    assertEquals(
        String.join(
                "\n",
                PreferenceSynth.preferenceLines(
                    Kind.PAIRS, PrefTask.MIXED, Format.PROMPT_COMPLETION, 300, 4))
            + "\n",
        Files.readString(a));
    assertEquals(
        String.join(
                "\n",
                PreferenceSynth.heldOutLines(
                    Kind.PAIRS, PrefTask.MIXED, Format.PROMPT_COMPLETION, 40, 4, 300))
            + "\n",
        Files.readString(ev));
    Set<String> train = PreferenceSynthTest.prompts(Files.readAllLines(a));
    Set<String> held = new HashSet<>(PreferenceSynthTest.prompts(Files.readAllLines(ev)));
    held.retainAll(train);
    assertEquals(Set.of(), held);
    Path b = tmp.resolve("again.jsonl");
    assertEquals(
        0,
        run(
                "synth",
                "--kind",
                "pairs",
                "--task",
                "mixed",
                "--n",
                "300",
                "--seed",
                "4",
                "--out",
                b.toString())
            .code());
    assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
  }

  @Test
  void unpairedWritesTwoLinesPerPairAndListsOnePerPrompt() throws IOException {
    Path k = tmp.resolve("k.jsonl");
    Run r =
        run("synth", "--kind", "unpaired", "--task", "count", "--n", "5", "--out", k.toString());
    assertEquals(0, r.code(), r.err());
    assertEquals("wrote 10 lines to " + k + "\n", r.out());
    assertTrue(Files.readAllLines(k).get(1).endsWith(",\"label\":false}"));
    Path l = tmp.resolve("l.jsonl");
    assertEquals(
        0,
        run(
                "synth",
                "--kind",
                "lists",
                "--task",
                "sort",
                "--n",
                "6",
                "--format",
                "messages",
                "--out",
                l.toString())
            .code());
    for (String line : Files.readAllLines(l)) {
      assertTrue(line.startsWith("{\"prompt\":[{\"role\":\"user\",\"content\":\"Sort: "), line);
      assertTrue(line.contains("\"rewards\":["), line);
    }
  }

  @Test
  void theDefaultKindIsStillSft() throws IOException {
    Path a = tmp.resolve("sft.jsonl");
    assertEquals(0, run("synth", "--task", "copy", "--n", "3", "--out", a.toString()).code());
    assertEquals(
        String.join("\n", SynthData.lines(SynthData.Task.COPY, Format.PROMPT_COMPLETION, 3, 0))
            + "\n",
        Files.readString(a));
  }

  @Test
  void kindsAndTheirTasksAreUsageErrors() {
    Path x = tmp.resolve("x.jsonl");
    Run kind = run("synth", "--kind", "kto", "--task", "count", "--n", "3", "--out", x.toString());
    assertEquals(2, kind.code());
    assertTrue(
        kind.err()
            .contains("unknown kind 'kto' (expected one of sft, pairs, unpaired," + " lists)"),
        kind.err());
    Run task =
        run("synth", "--kind", "pairs", "--task", "arith", "--n", "3", "--out", x.toString());
    assertEquals(2, task.code());
    assertTrue(task.err().contains("unknown preference task 'arith'"), task.err());
    Run sft = run("synth", "--task", "sort", "--n", "3", "--out", x.toString());
    assertEquals(2, sft.code());
    assertTrue(sft.err().contains("unknown task 'sort'"), sft.err());
    // Too few unseen prompts for the eval file: a usage error, and neither file is written.
    Path ev = tmp.resolve("ev.jsonl");
    Run held =
        run(
            "synth",
            "--kind",
            "pairs",
            "--task",
            "count",
            "--n",
            "20000",
            "--out",
            x.toString(),
            "--eval-out",
            ev.toString(),
            "--eval-n",
            "5");
    assertEquals(2, held.code());
    assertTrue(held.err().contains("cannot draw 5 held-out COUNT items"), held.err());
    assertFalse(Files.exists(x));
    assertFalse(Files.exists(ev));
  }
}
