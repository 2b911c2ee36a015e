package ai.tilt.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.tilt.data.PreferenceSynth.PrefTask;
import ai.tilt.data.PreferenceSynth.Scored;
import ai.tilt.data.SynthData.Format;
import ai.tilt.data.SynthData.Kind;
import ai.tilt.tokenizer.TextTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PreferenceSynthTest {
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

  /** The right answer of a prompt, computed here from the task's definition. */
  static List<String> answer(String prompt) {
    if (prompt.startsWith("Count from ")) {
      int s = Integer.parseInt(prompt.substring(11, prompt.length() - 1));
      List<String> out = new ArrayList<>();
      for (int k = 1; k <= 5; k++) {
        out.add(Integer.toString(s + k));
      }
      return out;
    }
    List<String> words = new ArrayList<>(Arrays.asList(prompt.split(" ")));
    String task = words.remove(0);
    assertTrue(words.size() >= 3 && words.size() <= 5, prompt);
    assertEquals(words.size(), new HashSet<>(words).size(), "distinct words: " + prompt);
    if (task.equals("Reverse:")) {
      Collections.reverse(words);
    } else {
      assertEquals("Sort:", task);
      Collections.sort(words);
    }
    return words;
  }

  static List<String> items(String response) {
    assertTrue(response.startsWith(" "), response);
    return List.of(response.substring(1).split(" "));
  }

  static int matches(List<String> a, List<String> b) {
    int n = 0;
    for (int i = 0; i < a.size(); i++) {
      n += a.get(i).equals(b.get(i)) ? 1 : 0;
    }
    return n;
  }

  @Test
  void sameArgumentsGiveTheSameLinesAndOtherSeedsDoNot() {
    for (Kind k : List.of(Kind.PAIRS, Kind.UNPAIRED, Kind.LISTS)) {
      for (PrefTask t : PrefTask.values()) {
        List<String> a = PreferenceSynth.preferenceLines(k, t, Format.PROMPT_COMPLETION, 30, 7);
        assertEquals(a, PreferenceSynth.preferenceLines(k, t, Format.PROMPT_COMPLETION, 30, 7));
        assertNotEquals(a, PreferenceSynth.preferenceLines(k, t, Format.PROMPT_COMPLETION, 30, 8));
        assertEquals(k == Kind.UNPAIRED ? 60 : 30, a.size());
      }
    }
  }

  @Test
  void chosenFollowsTheRuleAndRejectedBreaksItAtEqualLength() {
    SplittableRandom r = new SplittableRandom(3);
    for (PrefTask t : PrefTask.values()) {
      for (int i = 0; i < 300; i++) {
        Scored s = PreferenceSynth.pair(t, r);
        List<String> right = answer(s.prompt());
        List<String> chosen = items(s.responses().get(0));
        List<String> rejected = items(s.responses().get(1));
        assertEquals(right, chosen, s.toString());
        assertNotEquals(right, rejected, s.toString());
        assertEquals(chosen.size(), rejected.size(), s.toString());
        // Length tells nothing: the same number of characters.
        assertEquals(s.responses().get(0).length(), s.responses().get(1).length(), s.toString());
        assertEquals(List.of(right.size(), matches(right, rejected)), s.rewards());
        if (!s.prompt().startsWith("Count")) {
          assertEquals(new HashSet<>(chosen), new HashSet<>(rejected), "a wrong order: " + s);
        }
      }
    }
  }

  @Test
  void mixedDrawsCountAndSortEvenlyAndNeverReverse() {
    SplittableRandom r = new SplittableRandom(4);
    int count = 0;
    for (int i = 0; i < 1000; i++) {
      String p = PreferenceSynth.pair(PrefTask.MIXED, r).prompt();
      assertTrue(p.startsWith("Count from ") || p.startsWith("Sort: "), p);
      count += p.startsWith("Count") ? 1 : 0;
    }
    assertTrue(count > 450 && count < 550, "count items: " + count);
  }

  @Test
  void listsHoldFourResponsesGradedByRightPositionsWithOneBest() {
    SplittableRandom r = new SplittableRandom(5);
    Set<Integer> seen = new HashSet<>();
    for (int i = 0; i < 300; i++) {
      Scored s = PreferenceSynth.list(PrefTask.MIXED, r);
      List<String> right = answer(s.prompt());
      assertEquals(4, s.responses().size());
      int best = 0;
      for (int k = 0; k < 4; k++) {
        List<String> items = items(s.responses().get(k));
        assertEquals(right.size(), items.size());
        assertEquals(matches(right, items), (int) s.rewards().get(k), s.toString());
        best += items.equals(right) ? 1 : 0;
        seen.add(s.rewards().get(k));
      }
      assertEquals(1, best, "exactly one right answer: " + s);
    }
    assertTrue(seen.size() >= 4, "graded rewards: " + seen);
  }

  @Test
  void unpairedLinesArePairsSplitIntoLabelledLines() throws IOException {
    List<String> pairs =
        PreferenceSynth.preferenceLines(
            Kind.PAIRS, PrefTask.MIXED, Format.PROMPT_COMPLETION, 20, 9);
    List<String> unpaired =
        PreferenceSynth.preferenceLines(
            Kind.UNPAIRED, PrefTask.MIXED, Format.PROMPT_COMPLETION, 20, 9);
    for (int i = 0; i < pairs.size(); i++) {
      JsonNode p = Jsonl.mapper().readTree(pairs.get(i));
      JsonNode good = Jsonl.mapper().readTree(unpaired.get(2 * i));
      JsonNode bad = Jsonl.mapper().readTree(unpaired.get(2 * i + 1));
      assertEquals(p.get("prompt"), good.get("prompt"));
      assertEquals(p.get("chosen"), good.get("completion"));
      assertEquals(p.get("rejected"), bad.get("completion"));
      assertTrue(good.get("label").booleanValue());
      assertTrue(!bad.get("label").booleanValue());
    }
  }

  @Test
  void heldOutLinesAvoidEveryTrainingPromptAndKeepTheTaskMix() throws IOException {
    Set<String> train =
        prompts(
            PreferenceSynth.preferenceLines(
                Kind.PAIRS, PrefTask.MIXED, Format.PROMPT_COMPLETION, 2000, 1));
    List<String> eval =
        PreferenceSynth.heldOutLines(
            Kind.PAIRS, PrefTask.MIXED, Format.PROMPT_COMPLETION, 200, 1, 2000);
    Set<String> held = prompts(eval);
    held.retainAll(train);
    assertEquals(Set.of(), held);
    long count = eval.stream().filter(l -> l.startsWith("{\"prompt\":\"Count")).count();
    assertTrue(count > 70 && count < 130, "count items among 200: " + count);
    // A training file that used every count prompt leaves none to hold out.
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                PreferenceSynth.heldOutLines(
                    Kind.PAIRS, PrefTask.COUNT, Format.PROMPT_COMPLETION, 10, 1, 20000));
    assertTrue(e.getMessage().startsWith("cannot draw 10 held-out COUNT items"), e.getMessage());
  }

  static Set<String> prompts(List<String> lines) throws IOException {
    Set<String> out = new HashSet<>();
    for (String l : lines) {
      out.add(Jsonl.mapper().readTree(l).get("prompt").toString());
    }
    return out;
  }

  @Test
  void everyKindAndFormatLoadsAsPreferenceData() throws IOException {
    for (Format f : Format.values()) {
      Path pairs = tmp.resolve("pairs-" + f + ".jsonl");
      SynthData.writeLines(
          pairs, PreferenceSynth.preferenceLines(Kind.PAIRS, PrefTask.MIXED, f, 50, 2));
      PreferenceDataset d = PreferenceDataset.load(pairs, tok, DataOptions.of(128));
      assertEquals(PreferenceDataset.Kind.PAIRS, d.kind());
      assertEquals(50, d.groups().size());
      Path kto = tmp.resolve("kto-" + f + ".jsonl");
      SynthData.writeLines(
          kto, PreferenceSynth.preferenceLines(Kind.UNPAIRED, PrefTask.REVERSE, f, 25, 2));
      d = PreferenceDataset.load(kto, tok, DataOptions.of(128));
      assertEquals(PreferenceDataset.Kind.UNPAIRED, d.kind());
      assertEquals(50, d.groups().size());
      assertArrayEquals(new double[] {0}, d.groups().get(1).rewards());
      Path lists = tmp.resolve("lists-" + f + ".jsonl");
      SynthData.writeLines(
          lists, PreferenceSynth.preferenceLines(Kind.LISTS, PrefTask.COUNT, f, 50, 2));
      d = PreferenceDataset.load(lists, tok, DataOptions.of(128));
      assertEquals(PreferenceDataset.Kind.SCORED_LISTS, d.kind());
      assertEquals(4, d.groups().get(0).size());
      assertEquals(0, d.stats().truncatedResponses());
    }
    // A chat reply is the text without its leading space, ended by the template's end of turn.
    ResponseGroup g =
        PreferenceDataset.load(tmp.resolve("pairs-MESSAGES.jsonl"), tok, DataOptions.of(128))
            .groups()
            .get(0);
    String prompt = tok.decode(g.prompt(), false);
    assertTrue(
        prompt.startsWith("<|bos|><|user|>\n") && prompt.endsWith("<|assistant|>\n"), prompt);
    assertTrue(tok.decode(g.responses().get(0), false).endsWith("<|eos|>\n"));
  }

  @Test
  void shippedRecipeDataIsWhatTheGeneratorWrites() throws IOException {
    // Written by `tilt data synth --kind pairs --task mixed --n 2000 --seed 1
    // --out recipes/data/pref-tiny.jsonl --eval-out recipes/data/pref-tiny-eval.jsonl
    // --eval-n 200`, then --kind unpaired --n 2000 (kto-tiny) and --kind lists --n 1000
    // (lists-tiny), both --task mixed --seed 1.
    Format f = Format.PROMPT_COMPLETION;
    assertFile(
        "pref-tiny.jsonl", PreferenceSynth.preferenceLines(Kind.PAIRS, PrefTask.MIXED, f, 2000, 1));
    assertFile(
        "pref-tiny-eval.jsonl",
        PreferenceSynth.heldOutLines(Kind.PAIRS, PrefTask.MIXED, f, 200, 1, 2000));
    assertFile(
        "kto-tiny.jsonl",
        PreferenceSynth.preferenceLines(Kind.UNPAIRED, PrefTask.MIXED, f, 2000, 1));
    assertFile(
        "lists-tiny.jsonl",
        PreferenceSynth.preferenceLines(Kind.LISTS, PrefTask.MIXED, f, 1000, 1));
    // And they load as training would: no identical pair, nothing cut at 64 tokens.
    for (String name :
        List.of("pref-tiny.jsonl", "pref-tiny-eval.jsonl", "kto-tiny.jsonl", "lists-tiny.jsonl")) {
      PreferenceDataset d =
          PreferenceDataset.load(Path.of("recipes/data", name), tok, DataOptions.of(64));
      assertEquals(d.stats().lines(), d.stats().used(), name);
      assertEquals(0, d.stats().truncatedResponses(), name);
    }
  }

  static void assertFile(String name, List<String> lines) throws IOException {
    assertEquals(
        String.join("\n", lines) + "\n", Files.readString(Path.of("recipes/data", name)), name);
  }

  @Test
  void namesAreParsedWithHelpfulErrors() {
    assertEquals(PrefTask.SORT, PrefTask.parse("sort"));
    assertEquals(Kind.UNPAIRED, Kind.parse("unpaired"));
    assertEquals(
        "unknown preference task 'arith' (expected one of count, reverse, sort, mixed)",
        assertThrows(IllegalArgumentException.class, () -> PrefTask.parse("arith")).getMessage());
    assertEquals(
        "unknown kind 'kto' (expected one of sft, pairs, unpaired, lists)",
        assertThrows(IllegalArgumentException.class, () -> Kind.parse("kto")).getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () ->
            PreferenceSynth.preferenceLines(
                Kind.PAIRS, PrefTask.COUNT, Format.PROMPT_COMPLETION, 0, 1));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            PreferenceSynth.preferenceLines(
                Kind.SFT, PrefTask.COUNT, Format.PROMPT_COMPLETION, 1, 1));
  }
}
