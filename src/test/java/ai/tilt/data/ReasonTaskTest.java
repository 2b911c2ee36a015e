package ai.tilt.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reason task: word problems whose stated answer is checked by reading the problem anew. */
class ReasonTaskTest {
  @TempDir static Path tmp;
  static TextTokenizer tok;

  private static final Pattern QUESTION = Pattern.compile(" How many ([a-z]+)( in all)?\\?$");
  private static final Pattern BAGS =
      Pattern.compile("([A-Z][a-z]+) has (\\d+) bags of (\\d+) ([a-z]+)");
  private static final Pattern RELATIVE =
      Pattern.compile("([A-Z][a-z]+) has (\\d+) (more|fewer) than ([A-Z][a-z]+)");
  private static final Pattern HAS = Pattern.compile("([A-Z][a-z]+) has (\\d+) ([a-z]+)");
  private static final Pattern GAIN = Pattern.compile("gets (\\d+)|(\\d+) more");
  private static final Pattern LOSS = Pattern.compile("gives away (\\d+)");
  private static final Pattern STEP = Pattern.compile(" (\\d+)([-+*])(\\d+)=(\\d+)\\.");
  private static final Pattern SOLUTION =
      Pattern.compile("(?:" + STEP.pattern() + "){2,3} #### (\\d+)");

  @BeforeAll
  static void load() {
    tok = SftSupport.bpe(tmp.resolve("bpe"));
  }

  @AfterAll
  static void close() {
    tok.close();
  }

  /** A problem read clause by clause, kept apart from the generator's templates. */
  record Reading(int answer, String shape) {}

  static Reading solve(String prompt) {
    Matcher q = QUESTION.matcher(prompt);
    assertTrue(q.find(), "no question: " + prompt);
    String body = prompt.substring(0, q.start());
    assertTrue(body.endsWith("."), prompt);
    Map<String, Integer> held = new LinkedHashMap<>();
    String subject = null;
    String noun = null;
    StringBuilder shape = new StringBuilder();
    for (String clause : body.substring(0, body.length() - 1).split("\\. |, | and ")) {
      Matcher m;
      if ((m = BAGS.matcher(clause)).matches()) {
        subject = m.group(1);
        noun = m.group(4);
        held.put(subject, Integer.parseInt(m.group(2)) * Integer.parseInt(m.group(3)));
        shape.append("bags ");
      } else if ((m = RELATIVE.matcher(clause)).matches()) {
        Integer ref = held.get(m.group(4));
        assertTrue(ref != null, "compared with someone unknown: " + prompt);
        int d = Integer.parseInt(m.group(2));
        subject = m.group(1);
        assertTrue(!held.containsKey(subject), "two people, not one: " + prompt);
        held.put(subject, m.group(3).equals("more") ? ref + d : ref - d);
        shape.append(m.group(3)).append(' ');
      } else if ((m = HAS.matcher(clause)).matches()) {
        subject = m.group(1);
        noun = m.group(3);
        held.put(subject, Integer.parseInt(m.group(2)));
        shape.append("has ");
      } else if ((m = GAIN.matcher(clause)).matches()) {
        String n = m.group(1) != null ? m.group(1) : m.group(2);
        held.merge(subject, Integer.parseInt(n), Integer::sum);
        shape.append("gain ");
      } else if ((m = LOSS.matcher(clause)).matches()) {
        held.merge(subject, -Integer.parseInt(m.group(1)), Integer::sum);
        shape.append("loss ");
      } else {
        throw new AssertionError("unread clause '" + clause + "' in: " + prompt);
      }
      for (int v : held.values()) {
        assertTrue(v >= 0, "nobody can hold less than nothing: " + prompt);
      }
    }
    assertEquals(noun, q.group(1), "the question asks about what the problem counts: " + prompt);
    if (q.group(2) != null) {
      assertEquals(2, held.size(), prompt);
      return new Reading(held.values().stream().mapToInt(Integer::intValue).sum(), shape + "all");
    }
    assertEquals(1, held.size(), prompt);
    return new Reading(held.get(subject), shape.toString().trim());
  }

  @Test
  void everyAnswerIsWhatTheProblemSaysAndTheWorkingReachesIt() {
    SplittableRandom r = new SplittableRandom(17);
    Set<String> shapes = new HashSet<>();
    Set<Integer> answers = new HashSet<>();
    for (int i = 0; i < 20_000; i++) {
      Item it = SynthData.item(Task.REASON, r);
      Reading read = solve(it.prompt());
      assertEquals(Integer.toString(read.answer()), it.answer(), it.prompt());
      int answer = Integer.parseInt(it.answer());
      assertTrue(answer >= 0 && answer <= WordProblems.MAX_ANSWER, it.prompt());
      shapes.add(read.shape());
      answers.add(answer);

      String c = it.completion();
      Matcher whole = SOLUTION.matcher(c);
      assertTrue(whole.matches(), "solution format: '" + c + "'");
      assertEquals(it.answer(), whole.group(5), c);
      // Each step's operands are numbers of the prompt or results before it: copying a model
      // of this size learns, leaving the arithmetic as what it must get right.
      Set<Integer> known = new HashSet<>();
      Matcher n = Pattern.compile("\\d+").matcher(it.prompt());
      while (n.find()) {
        known.add(Integer.parseInt(n.group()));
      }
      Matcher step = STEP.matcher(c);
      int last = -1;
      while (step.find()) {
        int x = Integer.parseInt(step.group(1));
        int y = Integer.parseInt(step.group(3));
        int z = Integer.parseInt(step.group(4));
        int want =
            switch (step.group(2)) {
              case "+" -> x + y;
              case "-" -> x - y;
              default -> x * y;
            };
        assertEquals(want, z, c);
        assertTrue(known.contains(x) && known.contains(y), "operands from the text: " + c);
        known.add(z);
        last = z;
      }
      assertEquals(answer, last, c);
      assertTrue(c.chars().allMatch(ch -> ch >= 32 && ch < 127), c);
      assertTrue(it.prompt().chars().allMatch(ch -> ch >= 32 && ch < 127), it.prompt());
    }
    assertEquals(
        Set.of(
            "has gain loss",
            "bags gain",
            "bags loss",
            "has more all",
            "has fewer all",
            "has gain loss gain"),
        shapes);
    assertTrue(answers.size() > 45, "answers spread over the range: " + answers.size());
  }

  @Test
  void itemsFitTheTokenBudgetAndTrainOnTheWorkedSolution() throws IOException {
    SplittableRandom r = new SplittableRandom(4);
    for (int i = 0; i < 5000; i++) {
      Item it = SynthData.item(Task.REASON, r);
      assertTrue(
          tok.encode(it.prompt(), false).length <= WordProblems.MAX_PROMPT_TOKENS, it.prompt());
      assertTrue(
          tok.encode(it.completion(), false).length <= WordProblems.MAX_COMPLETION_TOKENS,
          it.completion());
    }
    Path f = tmp.resolve("reason.jsonl");
    SynthData.write(f, Task.REASON, Format.PROMPT_COMPLETION, 300, 2);
    SftDataset data = SftDataset.load(f, tok, DataOptions.of(96));
    assertEquals(300, data.stats().used());
    assertEquals(0, data.stats().truncated());
    List<String> lines = Files.readAllLines(f);
    for (int i = 0; i < lines.size(); i++) {
      JsonNode o = Jsonl.mapper().readTree(lines.get(i));
      assertEquals(List.of("prompt", "completion", "answer"), fields(o));
      assertTrue(o.get("answer").isTextual(), "a string answer, as GSM8K's: " + lines.get(i));
      assertEquals(
          o.get("completion").asText() + "<|eos|>",
          SftSupport.targetText(tok, data.examples().get(i)));
    }
    Path chat = tmp.resolve("reason-chat.jsonl");
    SynthData.write(chat, Task.REASON, Format.MESSAGES, 300, 2);
    SftDataset chats = SftDataset.load(chat, tok, DataOptions.of(128));
    assertEquals(300, chats.stats().used());
    assertEquals(0, chats.stats().truncated());
  }

  @Test
  void linesAreDeterministicAndEvalDrawsItsOwnStream() {
    List<String> a = SynthData.lines(Task.REASON, Format.PROMPT_COMPLETION, 200, 11);
    assertEquals(a, SynthData.lines(Task.REASON, Format.PROMPT_COMPLETION, 200, 11));
    assertNotEquals(a, SynthData.lines(Task.REASON, Format.PROMPT_COMPLETION, 200, 12));
    List<String> eval =
        SynthData.lines(Task.REASON, Format.PROMPT_COMPLETION, 200, SynthData.evalSeed(11));
    assertNotEquals(a, eval);
    // Pinned, so that a change to the draws, which would silently change every file, is seen.
    assertEquals(
        List.of(
            "{\"prompt\":\"Pam has 5 bags of 9 cups and gives away 4. How many cups?\","
                + "\"completion\":\" 5*9=45. 45-4=41. #### 41\",\"answer\":\"41\"}",
            "{\"prompt\":\"Leo has 7 coins, gets 7 and gives away 7. How many coins?\","
                + "\"completion\":\" 7+7=14. 14-7=7. #### 7\",\"answer\":\"7\"}"),
        SynthData.lines(Task.REASON, Format.PROMPT_COMPLETION, 2, 1));
  }

  @Test
  void promptOnlyLinesHoldTheSftLinesPromptsAndAnswers() throws IOException {
    for (Task t : List.of(Task.REASON, Task.ARITH, Task.COUNT)) {
      List<String> sft = SynthData.lines(t, Format.PROMPT_COMPLETION, 50, 3);
      List<String> prompts = SynthData.lines(t, Format.PROMPT_COMPLETION, 50, 3, true);
      for (int i = 0; i < sft.size(); i++) {
        JsonNode s = Jsonl.mapper().readTree(sft.get(i));
        JsonNode p = Jsonl.mapper().readTree(prompts.get(i));
        assertEquals(List.of("prompt", "answer"), fields(p), t.name());
        assertEquals(s.get("prompt"), p.get("prompt"));
        String answer = p.get("answer").asText();
        if (t == Task.REASON) {
          assertEquals(s.get("answer"), p.get("answer"));
        } else {
          assertEquals(s.get("completion").asText(), " " + answer);
        }
        if (t == Task.ARITH) {
          Matcher m = Pattern.compile("Add (\\d+)\\+(\\d+)=").matcher(p.get("prompt").asText());
          assertTrue(m.matches());
          int sum = Integer.parseInt(m.group(1)) + Integer.parseInt(m.group(2));
          assertEquals(Integer.toString(sum), answer);
        }
      }
    }
    List<String> chat = SynthData.lines(Task.REASON, Format.MESSAGES, 20, 3, true);
    JsonNode first = Jsonl.mapper().readTree(chat.get(0));
    assertEquals(List.of("messages", "answer"), fields(first));
    assertEquals(1, first.get("messages").size());
    assertEquals("user", first.get("messages").get(0).get("role").asText());

    Path f = tmp.resolve("prompts.jsonl");
    SynthData.writeLines(f, SynthData.lines(Task.REASON, Format.PROMPT_COMPLETION, 20, 3, true));
    List<PromptSet.Prompt> loaded = PromptSet.load(f, tok, 512, false, true);
    assertEquals(20, loaded.size());
    Item item = SynthData.item(Task.REASON, new SplittableRandom(3));
    assertEquals(item.prompt(), loaded.get(0).text());
    assertEquals(item.answer(), loaded.get(0).record().get("answer").asText());
    Path c = tmp.resolve("chat-prompts.jsonl");
    SynthData.writeLines(c, chat);
    assertTrue(PromptSet.load(c, tok, 512, false, true).get(0).text().endsWith("<|assistant|>\n"));
  }

  /** Other tasks' SFT lines are as they were before answers existed: no answer field. */
  @Test
  void onlyReasonsSftLinesCarryAnAnswer() throws IOException {
    for (Task t : Task.values()) {
      JsonNode o = Jsonl.mapper().readTree(SynthData.lines(t, Format.MESSAGES, 1, 5).get(0));
      assertEquals(t == Task.REASON, o.has("answer"), t.name());
    }
  }

  private static List<String> fields(JsonNode o) {
    List<String> out = new ArrayList<>();
    o.fieldNames().forEachRemaining(out::add);
    return out;
  }
}
