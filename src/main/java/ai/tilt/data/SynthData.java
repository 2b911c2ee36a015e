package ai.tilt.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

/**
 * Deterministic synthetic SFT data: small rule-following tasks whose answer is a function of the
 * prompt, so a tiny model's loss falls well below the unigram level within a few hundred steps and
 * a sample can be checked by eye. Prompts and completions are short ASCII (under ~40 bytes), which
 * Tilt's 512-token byte-level BPE encodes in about as many tokens as characters.
 *
 * <p>Tasks ({@link Task}): {@code count} ("Count from 7:" -> " 8 9 10 11 12"), {@code reverse}
 * ("Reverse: cat dog sun" -> " sun dog cat"), {@code copy} ("Copy: cat dog" -> " cat dog"), {@code
 * arith} ("Add 23+45=" -> " 68") and {@code mixed} (each line a task drawn uniformly, length
 * excepted). {@code length} is count with answers of varied length, 1 + Binomial(10, 1/2) numbers
 * (1 to 11, mode 6, p(1) = 1/1024): the paper lab's synthetic length task (Tajwar et al., 2024,
 * section 5), whose Min Length optimum lies where the model trained on it rarely goes. {@code
 * reason} is two- and three-step word problems with a worked solution ending "#### 8" ({@link
 * WordProblems}). Completions start with a space so that a text prompt and its completion tokenise
 * as they read.
 *
 * <p>Every item has an answer a reward can check ({@link Item#answer}): the completion without its
 * leading space, or for reason the final number alone. Reason's SFT lines carry it as a string
 * field {@code answer}, as GSM8K does; prompt-only lines ({@link #lines(Task, Format, int, long,
 * boolean)}) carry it for every task, for on-policy runs with an exact-match or math reward. The
 * other tasks' SFT lines leave it out, so the files written before it existed are written again
 * byte for byte.
 *
 * <p>Line {@code i} of a file depends only on (task, format, seed) and the lines before it, drawn
 * from one {@link SplittableRandom}, so the same arguments give a byte-identical file on any JVM.
 * An eval file uses the stream seeded by {@link #evalSeed}; it is independent of the training
 * stream but may repeat training items where a task has few of them (count has 100).
 *
 * <p>Preference data (pairs, unpaired, lists: {@link Kind}) is made by {@link PreferenceSynth},
 * which shares this class's words, eval seed and writer.
 */
public final class SynthData {
  private static final String[] WORDS = {
    "cat", "dog", "sun", "red", "box", "cup", "hat", "pen",
    "map", "egg", "owl", "bee", "fox", "jam", "key", "ink"
  };
  private static final int COUNT_STARTS = 100;
  static final int COUNT_LENGTH = 5;
  private static final int ADD_BELOW = 50;

  /** The length task's answers hold 1 + Binomial(LENGTH_TRIALS, 1/2) numbers: 1..11, mode 6. */
  public static final int LENGTH_TRIALS = 10;

  private SynthData() {}

  /** The tasks, named on the command line in lower case. */
  public enum Task {
    COUNT,
    REVERSE,
    COPY,
    ARITH,
    MIXED,
    LENGTH,
    REASON;

    /** The task of a command-line name, case-insensitive. */
    public static Task parse(String name) {
      try {
        return valueOf(name.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "unknown task '" + name + "' (expected one of " + names(values()) + ")");
      }
    }
  }

  /** The line shapes: TRL prompt-completion text, or a user/assistant chat. */
  public enum Format {
    PROMPT_COMPLETION,
    MESSAGES;

    /** The format of a command-line name: {@code prompt-completion} or {@code messages}. */
    public static Format parse(String name) {
      try {
        return valueOf(name.toUpperCase(Locale.ROOT).replace('-', '_'));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "unknown format '" + name + "' (expected one of " + names(values()) + ")");
      }
    }

    public String cliName() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  /**
   * One task instance; the completion starts with a space.
   *
   * @param answer what a correct completion must say: the completion without its leading space, or
   *     less where the completion also shows its working
   */
  public record Item(String prompt, String completion, String answer) {
    /** An item whose answer is the whole completion. */
    public Item(String prompt, String completion) {
      this(prompt, completion, completion.substring(1));
    }
  }

  /** Draws one item of a task. */
  public static Item item(Task task, SplittableRandom random) {
    switch (task) {
      case COUNT:
        {
          int start = random.nextInt(COUNT_STARTS);
          StringBuilder c = new StringBuilder();
          for (int k = 1; k <= COUNT_LENGTH; k++) {
            c.append(' ').append(start + k);
          }
          return new Item("Count from " + start + ":", c.toString());
        }
      case REVERSE:
      case COPY:
        {
          String[] words = words(random);
          String[] answer = words.clone();
          if (task == Task.REVERSE) {
            for (int i = 0; i < answer.length / 2; i++) {
              String t = answer[i];
              answer[i] = answer[answer.length - 1 - i];
              answer[answer.length - 1 - i] = t;
            }
          }
          String name = task == Task.REVERSE ? "Reverse:" : "Copy:";
          return new Item(name + " " + String.join(" ", words), " " + String.join(" ", answer));
        }
      case ARITH:
        {
          int a = random.nextInt(ADD_BELOW);
          int b = random.nextInt(ADD_BELOW);
          return new Item("Add " + a + "+" + b + "=", " " + (a + b));
        }
      case LENGTH:
        {
          // Counting from 1, the last number is the length: a small reward model can read it off
          // the last token, as the paper's 1.4B ones could measure the length of free text.
          String what = WORDS[random.nextInt(WORDS.length)];
          int n = 1;
          for (int t = 0; t < LENGTH_TRIALS; t++) {
            n += random.nextBoolean() ? 1 : 0;
          }
          StringBuilder c = new StringBuilder();
          for (int k = 1; k <= n; k++) {
            c.append(' ').append(k);
          }
          return new Item("Count the " + what + "s:", c.toString());
        }
      case REASON:
        return WordProblems.item(random);
      case MIXED:
        {
          Task[] plain = {Task.COUNT, Task.REVERSE, Task.COPY, Task.ARITH};
          return item(plain[random.nextInt(plain.length)], random);
        }
      default:
        throw new AssertionError(task);
    }
  }

  /** 3 to 5 distinct words. */
  static String[] words(SplittableRandom random) {
    int n = 3 + random.nextInt(3);
    List<String> pool = new ArrayList<>(Arrays.asList(WORDS));
    String[] out = new String[n];
    for (int i = 0; i < n; i++) {
      out[i] = pool.remove(random.nextInt(pool.size()));
    }
    return out;
  }

  /** The JSON lines (without line breaks) of {@code n} items drawn from {@code seed}. */
  public static List<String> lines(Task task, Format format, int n, long seed) {
    return lines(task, format, n, seed, false);
  }

  /**
   * The JSON lines of {@code n} items drawn from {@code seed}; with {@code promptsOnly} each holds
   * the prompt and its {@code answer} but no completion, for on-policy training. Line {@code i}'s
   * prompt is the same either way.
   */
  public static List<String> lines(
      Task task, Format format, int n, long seed, boolean promptsOnly) {
    if (n < 1) {
      throw new IllegalArgumentException("n must be at least 1, got " + n);
    }
    SplittableRandom random = new SplittableRandom(seed);
    List<String> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      Item item = item(task, random);
      out.add(json(item, format, promptsOnly, promptsOnly || task == Task.REASON));
    }
    return out;
  }

  private static String json(Item item, Format format, boolean promptOnly, boolean withAnswer) {
    ObjectNode o = Jsonl.mapper().createObjectNode();
    if (format == Format.PROMPT_COMPLETION) {
      o.put("prompt", item.prompt());
      if (!promptOnly) {
        o.put("completion", item.completion());
      }
    } else {
      // The template separates the turns, so the answer drops its leading space.
      var msgs = o.putArray("messages");
      msgs.addObject().put("role", "user").put("content", item.prompt());
      if (!promptOnly) {
        msgs.addObject().put("role", "assistant").put("content", item.completion().substring(1));
      }
    }
    if (withAnswer) {
      o.put("answer", item.answer());
    }
    return json(o);
  }

  /** The seed of the eval stream for a training seed: a fixed, documented offset. */
  public static long evalSeed(long seed) {
    return seed ^ 0x6576616C6576616CL; // "evaleval" in ASCII
  }

  /** The shapes {@code tilt data synth --kind} writes: SFT lines or preference data. */
  public enum Kind {
    SFT,
    PAIRS,
    UNPAIRED,
    LISTS;

    /** The kind of a command-line name, case-insensitive. */
    public static Kind parse(String name) {
      try {
        return valueOf(name.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            "unknown kind '" + name + "' (expected one of " + names(values()) + ")");
      }
    }
  }

  static String json(ObjectNode o) {
    try {
      return Jsonl.mapper().writeValueAsString(o);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException(e); // a tree of strings and numbers always serialises
    }
  }

  /**
   * Writes {@code n} lines as UTF-8 with {@code \n} line ends, through a temporary file renamed
   * into place, so a failed run leaves no partial file behind.
   */
  public static void write(Path out, Task task, Format format, int n, long seed) {
    writeLines(out, lines(task, format, n, seed));
  }

  /** Writes lines as {@link #write} does. */
  public static void writeLines(Path out, List<String> lines) {
    String text = lines.stream().collect(Collectors.joining("\n", "", "\n"));
    Path abs = out.toAbsolutePath();
    Path tmp = abs.resolveSibling(abs.getFileName() + ".part");
    try {
      if (abs.getParent() != null) {
        Files.createDirectories(abs.getParent());
      }
      Files.writeString(tmp, text, StandardCharsets.UTF_8);
      Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + abs + ": " + e.getMessage(), e);
    } finally {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // best effort: the temp file is only left if the rename failed
      }
    }
  }

  static String names(Enum<?>[] values) {
    return Arrays.stream(values)
        .map(v -> v.name().toLowerCase(Locale.ROOT).replace('_', '-'))
        .collect(Collectors.joining(", "));
  }
}
