package ai.tilt.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tilt lab}'s own verbs as a user calls them (the run itself: ai.tilt.lab.LabRunTest). */
class LabCommandTest {
  @TempDir Path tmp;

  @Test
  void planListsTheJobsOfASelection() {
    PrintStream old = System.out;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    System.setOut(new PrintStream(out, true));
    try {
      assertEquals(0, CliTest.run("lab", "plan", "--quick", "--only", "toy").code());
    } finally {
      System.setOut(old);
    }
    assertEquals("toy/steps/kl\n  tilt lab toy --out {out}\n", out.toString());
    CliTest.Run bad = CliTest.run("lab", "plan", "--only", "bandits");
    assertNotEquals(0, bad.code());
    CliTest.Run seeds = CliTest.run("lab", "plan", "--only", "toy", "--seeds", "3,3");
    assertTrue(
        seeds.err().contains("--seeds: seeds must be distinct and >= 1, got 3,3"), seeds.err());
    assertTrue(
        bad.err()
            .contains(
                "--only bandits: no such experiment in recipes/paper/lab.yaml ([bandit, bandit-tokens, length, alpaca, toy])"),
        bad.err());
  }

  @Test
  void banditDataWritesEveryFileWithNestedOfflineSets() throws Exception {
    Path d = tmp.resolve("b");
    assertEquals(
        0,
        CliTest.run(
                "lab",
                "bandit-data",
                "--out",
                d.toString(),
                "--tokens",
                "9",
                "--sft-lines",
                "50",
                "--prompts",
                "20",
                "--offline-prompts",
                "3,5")
            .code());
    assertEquals(50, Files.readAllLines(d.resolve("sft.jsonl")).size());
    assertEquals(20, Files.readAllLines(d.resolve("eval.jsonl")).size());
    assertEquals(
        Files.readAllLines(d.resolve("offline-p5.jsonl")).subList(0, 3),
        Files.readAllLines(d.resolve("offline-p3.jsonl")));
    assertTrue(
        Files.readAllLines(d.resolve("sft.jsonl"))
            .get(0)
            .matches("\\{\"prompt_ids\": \\[\\d+], \"completion_ids\": \\[(\\d+, ){8}\\d+]}"));
    assertNotEquals(
        0,
        CliTest.run("lab", "bandit-data", "--out", d.toString(), "--offline-prompts", "0").code());
  }

  @Test
  void toyWritesItsJsonAndFigure() throws Exception {
    Path d = tmp.resolve("toy");
    assertEquals(
        0, CliTest.run("lab", "toy", "--out", d.toString(), "--lr", "1", "--steps", "10").code());
    String json = Files.readString(d.resolve("toy.json"));
    assertTrue(
        json.contains("\"steps_to_half\" : 6"), json); // forward KL at lr 1 (ai.tilt.lab.KlToyTest)
    assertTrue(Files.size(d.resolve("toy.png")) > 1000);
  }
}
