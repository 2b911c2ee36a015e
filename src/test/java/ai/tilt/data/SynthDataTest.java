package ai.tilt.data;

import static ai.tilt.data.SftSupport.targetText;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.data.SynthData.Format;
import ai.tilt.data.SynthData.Item;
import ai.tilt.data.SynthData.Task;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SynthDataTest {
  @TempDir static Path tmp;
  static TextTokenizer tok;

  @BeforeAll
  static void load() {
    tok = SftSupport.bpe(tmp.resolve("bpe"));
  }

  @AfterAll
  static void close() {
    tok.close();
  }

  @Test
  void sameArgumentsGiveTheSameLinesAndOtherSeedsDoNot() {
    for (Task t : Task.values()) {
      List<String> a = SynthData.lines(t, Format.PROMPT_COMPLETION, 50, 7);
      assertEquals(a, SynthData.lines(t, Format.PROMPT_COMPLETION, 50, 7), t.name());
      assertNotEquals(a, SynthData.lines(t, Format.PROMPT_COMPLETION, 50, 8), t.name());
      assertNotEquals(a, SynthData.lines(t, Format.PROMPT_COMPLETION, 50, SynthData.evalSeed(7)));
    }
  }

  @Test
  void everyItemFollowsItsTasksRule() {
    SplittableRandom r = new SplittableRandom(1);
    Pattern count = Pattern.compile("Count from (\\d+):");
    Pattern add = Pattern.compile("Add (\\d+)\\+(\\d+)=");
    for (int i = 0; i < 200; i++) {
      Item c = SynthData.item(Task.COUNT, r);
      Matcher m = count.matcher(c.prompt());
      assertTrue(m.matches(), c.prompt());
      int s = Integer.parseInt(m.group(1));
      assertEquals(
          " " + (s + 1) + " " + (s + 2) + " " + (s + 3) + " " + (s + 4) + " " + (s + 5),
          c.completion());

      Item a = SynthData.item(Task.ARITH, r);
      m = add.matcher(a.prompt());
      assertTrue(m.matches(), a.prompt());
      assertEquals(
          " " + (Integer.parseInt(m.group(1)) + Integer.parseInt(m.group(2))), a.completion());

      Item rev = SynthData.item(Task.REVERSE, r);
      assertTrue(rev.prompt().startsWith("Reverse: "), rev.prompt());
      List<String> words = new ArrayList<>(List.of(rev.prompt().substring(9).split(" ")));
      assertTrue(words.size() >= 3 && words.size() <= 5, rev.prompt());
      assertEquals(words.size(), new HashSet<>(words).size(), "distinct words: " + rev.prompt());
      Collections.reverse(words);
      assertEquals(" " + String.join(" ", words), rev.completion());

      Item cp = SynthData.item(Task.COPY, r);
      assertTrue(cp.prompt().startsWith("Copy: "), cp.prompt());
      assertEquals(" " + cp.prompt().substring(6), cp.completion());
    }
  }

  /** The length task: a count from 1 to 1 + Binomial(10, 1/2), so mode 6 and mean 6. */
  @Test
  void lengthAnswersCountRightWithBinomialLengths() {
    SplittableRandom r = new SplittableRandom(3);
    Pattern count = Pattern.compile("Count the [a-z]{3}s:");
    int[] histogram = new int[13];
    int n = 20_000;
    for (int i = 0; i < n; i++) {
      Item c = SynthData.item(Task.LENGTH, r);
      assertTrue(count.matcher(c.prompt()).matches(), c.prompt());
      String[] numbers = c.completion().substring(1).split(" ");
      for (int k = 0; k < numbers.length; k++) {
        assertEquals(k + 1, Integer.parseInt(numbers[k]), c.completion());
      }
      histogram[numbers.length]++;
    }
    assertEquals(0, histogram[0]);
    assertEquals(0, histogram[12]);
    // Binomial(10, 1/2) at 5 is 252/1024 = 0.246; at 0 (one number) 1/1024
    assertEquals(252.0 / 1024, histogram[6] / (double) n, 0.01);
    assertEquals(1.0 / 1024, histogram[1] / (double) n, 0.001);
    for (int k = 1; k <= 11; k++) {
      assertTrue(histogram[k] <= histogram[6], "mode 6: " + java.util.Arrays.toString(histogram));
    }
  }

  @Test
  void mixedDrawsEveryTask() {
    SplittableRandom r = new SplittableRandom(2);
    HashSet<String> kinds = new HashSet<>();
    for (int i = 0; i < 100; i++) {
      kinds.add(SynthData.item(Task.MIXED, r).prompt().split(" ")[0]);
    }
    assertEquals(java.util.Set.of("Count", "Reverse:", "Copy:", "Add"), kinds);
  }

  @Test
  void completionsRoundTripAndLoadAsTargetsPlusEos() throws IOException {
    Path f = tmp.resolve("mixed.jsonl");
    SynthData.write(f, Task.MIXED, Format.PROMPT_COMPLETION, 300, 5);
    List<String> lines = Files.readAllLines(f);
    assertEquals(300, lines.size());
    List<SftExample> ex = SftDataset.load(f, tok, DataOptions.of(128)).examples();
    assertEquals(300, ex.size());
    for (int i = 0; i < lines.size(); i++) {
      JsonNode o = Jsonl.mapper().readTree(lines.get(i));
      String completion = o.get("completion").asText();
      assertEquals(completion, tok.decode(tok.encode(completion, false), false));
      assertEquals(
          o.get("prompt").asText(), tok.decode(tok.encode(o.get("prompt").asText(), false), false));
      assertEquals(completion + "<|eos|>", targetText(tok, ex.get(i)));
    }
  }

  @Test
  void messagesFormatTrainsOnTheAssistantReply() throws IOException {
    Path f = tmp.resolve("chat.jsonl");
    SynthData.write(f, Task.COUNT, Format.MESSAGES, 20, 5);
    List<String> lines = Files.readAllLines(f);
    List<SftExample> ex = SftDataset.load(f, tok, DataOptions.of(128)).examples();
    Item first = SynthData.item(Task.COUNT, new SplittableRandom(5));
    assertEquals(
        "{\"messages\":[{\"role\":\"user\",\"content\":\""
            + first.prompt()
            + "\"},"
            + "{\"role\":\"assistant\",\"content\":\""
            + first.completion().substring(1)
            + "\"}]}",
        lines.get(0));
    // The template ends each turn with <|eos|>\n.
    assertEquals(first.completion().substring(1) + "<|eos|>\n", targetText(tok, ex.get(0)));
  }

  @Test
  void shippedRecipeDataIsWhatTheGeneratorWrites() throws IOException {
    // recipes/data was written by `tilt data synth --task mixed --n 2000 --seed 1
    // --out recipes/data/sft-tiny.jsonl --eval-out recipes/data/sft-tiny-eval.jsonl --eval-n 200`.
    String train = Files.readString(Path.of("recipes/data/sft-tiny.jsonl"));
    String eval = Files.readString(Path.of("recipes/data/sft-tiny-eval.jsonl"));
    assertEquals(
        String.join("\n", SynthData.lines(Task.MIXED, Format.PROMPT_COMPLETION, 2000, 1)) + "\n",
        train);
    assertEquals(
        String.join(
                "\n",
                SynthData.lines(Task.MIXED, Format.PROMPT_COMPLETION, 200, SynthData.evalSeed(1)))
            + "\n",
        eval);
  }

  @Test
  void namesAreParsedWithHelpfulErrors() {
    assertEquals(Task.ARITH, Task.parse("arith"));
    assertEquals(Task.REASON, Task.parse("Reason"));
    assertEquals(Format.MESSAGES, Format.parse("messages"));
    assertEquals(Format.PROMPT_COMPLETION, Format.parse("prompt-completion"));
    assertEquals(
        "unknown task 'sort' (expected one of count, reverse, copy, arith, mixed, length,"
            + " reason)",
        assertThrows(IllegalArgumentException.class, () -> Task.parse("sort")).getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> SynthData.lines(Task.COUNT, Format.MESSAGES, 0, 1));
  }
}
