package ai.tilt.data;

import ai.tilt.data.SynthData.Item;
import java.util.SplittableRandom;

/**
 * The {@code reason} task of {@link SynthData}: two- and three-step arithmetic word problems with a
 * worked solution and a numeric answer, e.g. "Ann has 13 pens, gets 4 and gives away 9. How many
 * pens?" -> " 13+4=17. 17-9=8. #### 8" (answer "8"). The answer ends the completion after {@code
 * ####}, as in GSM8K, so a reward can check it by the last number alone.
 *
 * <p>Sized for a model of a few hundred thousand parameters: six templates, one verb per operation
 * (gets, gives away, more than, fewer than, bags of), operands below 21 and answers 0 to 54, so the
 * arithmetic a model must learn is a table of a few hundred small sums and products. Every step
 * copies its operands from the prompt or from the step before, which such a model learns first;
 * getting the sums right is what SFT leaves partly done and a 0/1 correctness reward can improve.
 * The tiny BPE has few merges for digits and symbols, so text costs about a token per byte: a
 * prompt takes at most {@value #MAX_PROMPT_TOKENS} tokens and a solution {@value
 * #MAX_COMPLETION_TOKENS}: {@code max_length: 96} (128 for chat lines) and {@code max_new_tokens:
 * 40} hold any item with its EOS.
 */
final class WordProblems {
  private static final String[] NAMES = {
    "Ann", "Bob", "Cal", "Dan", "Eve", "Fay", "Gus", "Ivy",
    "Jim", "Kim", "Leo", "Max", "Ned", "Pam", "Sam", "Tom"
  };
  // Plural only: no template speaks of a single one.
  private static final String[] THINGS = {
    "pens", "cups", "hats", "eggs", "keys", "books", "cards", "coins", "toys", "balls"
  };

  /** Where the answer starts in a completion, after the worked steps. */
  static final String ANSWER_MARK = "#### ";

  /** The largest answer any template can produce. */
  static final int MAX_ANSWER = 54;

  /** Upper bounds, checked by the tests, of an item's lengths in tokens of Tilt's tiny BPE. */
  static final int MAX_PROMPT_TOKENS = 48;

  static final int MAX_COMPLETION_TOKENS = 36;

  private WordProblems() {}

  /** Draws one problem: template, then names and objects, then numbers, in a fixed order. */
  static Item item(SplittableRandom random) {
    int template = random.nextInt(6);
    String who = NAMES[random.nextInt(NAMES.length)];
    String what = THINGS[random.nextInt(THINGS.length)];
    Steps s = new Steps();
    String prompt;
    switch (template) {
      case 0:
        {
          int a = random.nextInt(1, 21);
          int b = random.nextInt(1, 10);
          int c = random.nextInt(1, a + b + 1);
          s.add(a, '+', b);
          s.add(s.last, '-', c);
          prompt = who + " has " + a + " " + what + ", gets " + b + " and gives away " + c + ".";
          break;
        }
      case 1:
      case 2:
        {
          int bags = random.nextInt(2, 6);
          int each = random.nextInt(2, 10);
          int c = random.nextInt(1, 10);
          s.add(bags, '*', each);
          String tail;
          if (template == 1) {
            s.add(s.last, '+', c);
            tail = " and " + c + " more.";
          } else {
            // Never more than there are, so the answer is not negative.
            c = Math.min(c, s.last);
            s.add(s.last, '-', c);
            tail = " and gives away " + c + ".";
          }
          prompt = who + " has " + bags + " bags of " + each + " " + what + tail;
          break;
        }
      case 3:
      case 4:
        {
          String other = NAMES[random.nextInt(NAMES.length)];
          if (other.equals(who)) {
            // A fixed successor keeps the draw count per item constant, so later lines are unmoved.
            other = NAMES[(indexOf(who) + 1) % NAMES.length];
          }
          int a = random.nextInt(2, 21);
          int b = random.nextInt(1, template == 3 ? 10 : Math.min(a, 10));
          String rel = template == 3 ? " more than " : " fewer than ";
          s.add(a, template == 3 ? '+' : '-', b);
          s.add(a, '+', s.last);
          prompt = who + " has " + a + " " + what + ". " + other + " has " + b + rel + who + ".";
          return finish(prompt + " How many " + what + " in all?", s);
        }
      case 5:
        {
          int a = random.nextInt(1, 21);
          int b = random.nextInt(1, 10);
          int c = random.nextInt(1, Math.min(a + b, 9) + 1);
          int d = random.nextInt(1, 10);
          s.add(a, '+', b);
          s.add(s.last, '-', c);
          s.add(s.last, '+', d);
          String steps = ", gets " + b + ", gives away " + c + " and gets " + d + ".";
          prompt = who + " has " + a + " " + what + steps;
          break;
        }
      default:
        throw new AssertionError(template);
    }
    return finish(prompt + " How many " + what + "?", s);
  }

  private static Item finish(String prompt, Steps s) {
    String answer = Integer.toString(s.last);
    return new Item(prompt, s.text + " " + ANSWER_MARK + answer, answer);
  }

  private static int indexOf(String name) {
    for (int i = 0; i < NAMES.length; i++) {
      if (NAMES[i].equals(name)) {
        return i;
      }
    }
    throw new AssertionError(name);
  }

  /** The worked solution so far, " x+y=z." per step, and the last result. */
  private static final class Steps {
    final StringBuilder text = new StringBuilder();
    int last;

    void add(int x, char op, int y) {
      last =
          switch (op) {
            case '+' -> x + y;
            case '-' -> x - y;
            case '*' -> x * y;
            default -> throw new AssertionError(op);
          };
      text.append(' ').append(x).append(op).append(y).append('=').append(last).append('.');
    }
  }
}
