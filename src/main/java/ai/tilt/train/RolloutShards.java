package ai.tilt.train;

import ai.tilt.data.PromptSet;
import ai.tilt.dist.Group;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The rollout of a data-parallel iteration: worker r collects its contiguous block of the
 * iteration's B prompts (whole groups: a prompt's C responses stay on one worker), then every
 * worker gathers every part, so each holds the one-process rollout and computes the same material
 * (advantages, pairs, batch statistics) from it.
 */
final class RolloutShards {
  private RolloutShards() {}

  /** The prompts worker {@code rank} of {@code size} collects, of {@code prompts}. */
  static int[] mine(int prompts, int rank, int size) {
    int[] b = block(prompts, rank, size);
    int[] out = new int[b[1] - b[0]];
    for (int i = 0; i < out.length; i++) {
      out[i] = b[0] + i;
    }
    return out;
  }

  /**
   * [from, to) of worker {@code rank}'s block of {@code n} items: ceil(n / W) each, the last less.
   */
  static int[] block(int n, int rank, int size) {
    int each = (n + size - 1) / size;
    return new int[] {Math.min(n, rank * each), Math.min(n, (rank + 1) * each)};
  }

  /** Every worker's part, assembled in the iteration's prompt order. */
  static Rollout gather(Group group, Rollout mine, List<PromptSet.Prompt> prompts) {
    if (group.size() == 1) {
      return mine;
    }
    List<byte[]> parts = group.allGather(encode(mine));
    List<Rollout> ranks = new ArrayList<>();
    List<int[]> picks = new ArrayList<>();
    for (int r = 0; r < parts.size(); r++) {
      int[] own = mine(prompts.size(), r, group.size());
      List<PromptSet.Prompt> theirs = new ArrayList<>();
      for (int g : own) {
        theirs.add(prompts.get(g));
        picks.add(new int[] {r, theirs.size() - 1});
      }
      try {
        ranks.add(decode(parts.get(r), theirs, mine));
      } catch (IOException e) {
        throw new UncheckedIOException("the rollout part of rank " + r + " is malformed", e);
      }
    }
    return Rollout.ofGroups(mine.iteration(), ranks, picks);
  }

  /** A worker's part: its prompts' rows, with the reward parts {@code like} has. */
  private static Rollout decode(byte[] part, List<PromptSet.Prompt> prompts, Rollout like)
      throws IOException {
    int c = like.samplesPerPrompt();
    int rows = prompts.size() * c;
    long[][] completions = new long[rows][];
    boolean[] finished = new boolean[rows];
    float[][] old = new float[rows][];
    float[][] ref = new float[rows][];
    double[] rewards = new double[rows];
    Map<String, double[]> rewardParts = new LinkedHashMap<>();
    for (String name : like.rewardParts().keySet()) {
      rewardParts.put(name, new double[rows]);
    }
    String[] texts = new String[rows];
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(part))) {
      float[][] sampling = in.readBoolean() ? new float[rows][] : null;
      for (int row = 0; row < rows; row++) {
        completions[row] = longs(in);
        finished[row] = in.readBoolean();
        if (sampling != null) {
          sampling[row] = floats(in);
        }
        old[row] = floats(in);
        ref[row] = floats(in);
        rewards[row] = in.readDouble();
        for (double[] p : rewardParts.values()) {
          p[row] = in.readDouble();
        }
        texts[row] = in.readBoolean() ? new String(bytes(in), StandardCharsets.UTF_8) : null;
      }
      return new Rollout(
          like.iteration(),
          prompts,
          c,
          completions,
          finished,
          sampling,
          old,
          ref,
          rewards,
          rewardParts,
          texts);
    }
  }

  private static byte[] encode(Rollout r) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeBoolean(r.samplingLogps() != null);
      for (int row = 0; row < r.rows(); row++) {
        out.writeInt(r.completions()[row].length);
        for (long id : r.completions()[row]) {
          out.writeLong(id);
        }
        out.writeBoolean(r.finished()[row]);
        if (r.samplingLogps() != null) {
          writeFloats(out, r.samplingLogps()[row]);
        }
        writeFloats(out, r.oldLogps()[row]);
        writeFloats(out, r.refLogps()[row]);
        out.writeDouble(r.rewards()[row]);
        for (double[] part : r.rewardParts().values()) {
          out.writeDouble(part[row]);
        }
        String text = r.texts() == null ? null : r.texts()[row];
        out.writeBoolean(text != null);
        if (text != null) {
          byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
          out.writeInt(utf8.length);
          out.write(utf8);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e); // a byte array does not fail
    }
    return bytes.toByteArray();
  }

  private static void writeFloats(DataOutputStream out, float[] v) throws IOException {
    out.writeInt(v.length);
    for (float f : v) {
      out.writeFloat(f);
    }
  }

  private static float[] floats(DataInputStream in) throws IOException {
    float[] v = new float[in.readInt()];
    for (int i = 0; i < v.length; i++) {
      v[i] = in.readFloat();
    }
    return v;
  }

  private static byte[] bytes(DataInputStream in) throws IOException {
    byte[] v = new byte[in.readInt()];
    in.readFully(v);
    return v;
  }

  private static long[] longs(DataInputStream in) throws IOException {
    long[] v = new long[in.readInt()];
    for (int i = 0; i < v.length; i++) {
      v[i] = in.readLong();
    }
    return v;
  }
}
