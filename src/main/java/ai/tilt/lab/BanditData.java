package ai.tilt.lab;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The files of a didactic bandit (Tajwar et al., 2024, section 4), as token ids over the 100
 * actions: a prompt is one uniformly drawn token, a response {@code tokens} actions drawn
 * independently from {@link PiData} (one for the single-token bandit, nine for the transformer
 * bandit). The model trained on {@link #sft} is the reference policy; {@link #offline} is the fixed
 * data set of the offline methods (C responses per prompt, as the code's N = 10), nested so that
 * the first P prompts of a larger set are the set of P prompts.
 *
 * <p>Each file is drawn from its own stream of {@code seed}, so changing one file's size leaves the
 * others as they were.
 */
public final class BanditData {
  private BanditData() {}

  /**
   * SFT lines {"prompt_ids": [t], "completion_ids": [a1..aL]}: the reference policy's training
   * data.
   */
  public static List<String> sft(int lines, int tokens, long seed) {
    SplittableRandom r = new SplittableRandom(stream(seed, 1));
    List<String> out = new ArrayList<>(lines);
    for (int i = 0; i < lines; i++) {
      out.add(
          "{\"prompt_ids\": ["
              + r.nextInt(PiData.ACTIONS)
              + "], \"completion_ids\": "
              + response(r, tokens)
              + "}");
    }
    return out;
  }

  /**
   * Prompt lines {"prompt_ids": [t]}; {@code which} separates the train (0) and eval (1) streams.
   */
  public static List<String> prompts(int lines, long seed, int which) {
    SplittableRandom r = new SplittableRandom(stream(seed, 2 + which));
    List<String> out = new ArrayList<>(lines);
    for (int i = 0; i < lines; i++) {
      out.add("{\"prompt_ids\": [" + r.nextInt(PiData.ACTIONS) + "]}");
    }
    return out;
  }

  /**
   * Offline lines {"prompt_ids": [t], "response_ids": [[...] x responses]}, responses drawn from
   * pi_data.
   */
  public static List<String> offline(int prompts, int responses, int tokens, long seed) {
    SplittableRandom r = new SplittableRandom(stream(seed, 4));
    List<String> out = new ArrayList<>(prompts);
    for (int i = 0; i < prompts; i++) {
      StringBuilder sb =
          new StringBuilder("{\"prompt_ids\": [")
              .append(r.nextInt(PiData.ACTIONS))
              .append("], \"response_ids\": [");
      for (int k = 0; k < responses; k++) {
        sb.append(k == 0 ? "" : ", ").append(response(r, tokens));
      }
      out.add(sb.append("]}").toString());
    }
    return out;
  }

  private static String response(SplittableRandom r, int tokens) {
    StringBuilder sb = new StringBuilder("[");
    for (int t = 0; t < tokens; t++) {
      sb.append(t == 0 ? "" : ", ").append(PiData.sample(r));
    }
    return sb.append(']').toString();
  }

  private static long stream(long seed, int file) {
    return seed * 0x9E3779B97F4A7C15L + file * 0xBF58476D1CE4E5B9L;
  }
}
