package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.data.ResponseGroup;
import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelConfig;
import java.util.List;
import java.util.function.Function;

/**
 * The N responses to a prompt packed in one row after a single copy of the prompt: [prompt | r_1 |
 * ... | r_N]. Each response attends the prompt and itself only, at the positions it would have
 * alone, so its log-probs are those of its own prompt + response row (tested), but the prompt runs
 * once instead of N times: for a DPO pair of a 128-token prompt and two 129-token responses, 386
 * tokens instead of 514. The first token of every response is predicted from the prompt's last
 * position; the rest from the response's own.
 *
 * @param ids (G, T) token ids, right-padded
 * @param positions (G, T) each token's position in its own prompt + response sequence
 * @param allowed (G, T, T) query t may attend key s
 * @param stateIndex (G, M) the position whose hidden state predicts each target
 * @param targets (G, M) the target ids (padding: 0)
 * @param segments (G, M, N) 1 where target m belongs to response n
 */
record PackedRows(
    long[] ids,
    long[] positions,
    boolean[] allowed,
    long[] stateIndex,
    long[] targets,
    float[] segments,
    int rows,
    int width,
    int maxTargets,
    int responses) {

  /** Packs equal-size groups; {@code window} > 0 limits attention to that many positions back. */
  static PackedRows pack(List<ResponseGroup> groups, long pad, int window) {
    int g = groups.size();
    int n = groups.get(0).size();
    int width = 0;
    int maxTargets = 0;
    for (ResponseGroup group : groups) {
      int len = group.prompt().length;
      int t = 0;
      for (long[] r : group.responses()) {
        len += r.length;
        t += group.prompt().length == 0 ? Math.max(0, r.length - 1) : r.length;
      }
      width = Math.max(width, len);
      maxTargets = Math.max(maxTargets, t);
    }
    maxTargets = Math.max(1, maxTargets);
    long[] ids = new long[g * width];
    long[] positions = new long[g * width];
    boolean[] allowed = new boolean[g * width * width];
    long[] stateIndex = new long[g * maxTargets];
    long[] targets = new long[g * maxTargets];
    float[] segments = new float[g * maxTargets * n];
    java.util.Arrays.fill(ids, pad);
    for (int a = 0; a < g; a++) {
      ResponseGroup group = groups.get(a);
      long[] prompt = group.prompt();
      int p = prompt.length;
      int[] segment = new int[width]; // -1 prompt, j response j, -2 padding
      java.util.Arrays.fill(segment, -2);
      for (int t = 0; t < p; t++) {
        ids[a * width + t] = prompt[t];
        positions[a * width + t] = t;
        segment[t] = -1;
      }
      int at = p;
      int m = 0;
      for (int j = 0; j < n; j++) {
        long[] r = group.responses().get(j);
        for (int i = 0; i < r.length; i++) {
          ids[a * width + at + i] = r[i];
          positions[a * width + at + i] = p + i;
          segment[at + i] = j;
          int from = i == 0 ? p - 1 : at + i - 1; // the state that predicts r[i]
          if (from >= 0) {
            stateIndex[a * maxTargets + m] = from;
            targets[a * maxTargets + m] = r[i];
            segments[(a * maxTargets + m) * n + j] = 1;
            m++;
          }
        }
        at += r.length;
      }
      for (int q = 0; q < width; q++) {
        for (int k = 0; k <= q; k++) {
          boolean ok =
              segment[q] != -2
                  && segment[k] != -2
                  && (segment[k] == -1 || segment[k] == segment[q])
                  && (window <= 0 || positions[a * width + q] - positions[a * width + k] < window);
          allowed[(a * width + q) * width + k] = ok;
        }
      }
    }
    return new PackedRows(
        ids, positions, allowed, stateIndex, targets, segments, g, width, maxTargets, n);
  }

  /** The widest packed row of {@code groups}: a prompt and all its responses. */
  static long width(List<ResponseGroup> groups) {
    long w = 0;
    for (ResponseGroup g : groups) {
      long len = g.prompt().length;
      for (long[] r : g.responses()) {
        len += r.length;
      }
      w = Math.max(w, len);
    }
    return w;
  }

  /** Tokens the packed rows hold (prompt once per group), for tokens/s. */
  static long tokens(List<ResponseGroup> groups) {
    long tokens = 0;
    for (ResponseGroup group : groups) {
      tokens += group.prompt().length;
      for (long[] r : group.responses()) {
        tokens += r.length;
      }
    }
    return tokens;
  }

  /**
   * Each response's log-prob sum under {@code model} (or, for a reference, under whatever {@code
   * run} hands it), with a graph when one is recorded.
   *
   * @return (G, N)
   */
  NDArray sequenceLogps(NDManager m, CausalLM model) {
    NDArray logp = targetLogps(m, model); // (G, M)
    NDArray seg = m.create(segments, new Shape(rows, maxTargets, responses)); // (G, M, N)
    return logp.expandDims(-1).mul(seg).sum(new int[] {1}); // (G, N)
  }

  /**
   * Each target's log-prob under {@code model}, with a graph when one is recorded: target m of
   * group g is token i of response n, m counting the group's responses' tokens in order.
   *
   * @return (G, M); values past a group's last target are meaningless
   */
  NDArray targetLogps(NDManager m, CausalLM model) {
    NDArray idArr = m.create(ids, new Shape(rows, width));
    NDArray posArr = m.create(positions, new Shape(rows, width));
    NDArray allowedArr = m.create(allowed, new Shape(rows, width, width));
    NDArray h = model.hidden(idArr, posArr, allowedArr); // (G, T, d)
    long d = h.getShape().get(2);
    NDArray index = m.create(stateIndex, new Shape(rows, maxTargets, 1)).repeat(2, d); // (G, M, d)
    NDArray states = h.gather(index, 1); // (G, M, d)
    return model.targetLogprobs(states, m.create(targets, new Shape(rows, maxTargets)));
  }

  /**
   * Where each response's tokens sit among {@link #targetLogps}' flattened (G * M) values, as a (G
   * * N, L) grid: row g * N + n, column i holds the index of response n's token i (i below its
   * length; past it, its group's first target, which the caller masks).
   *
   * @param columns L, at least the longest response
   */
  long[] responseGrid(List<ResponseGroup> groups, int columns) {
    long[] grid = new long[rows * responses * columns];
    for (int a = 0; a < rows; a++) {
      long at = (long) a * maxTargets;
      List<long[]> rs = groups.get(a).responses();
      for (int n = 0; n < responses; n++) {
        int len = rs.get(n).length;
        int row = (a * responses + n) * columns;
        for (int i = 0; i < columns; i++) {
          grid[row + i] = i < len ? at + i : (long) a * maxTargets;
        }
        at += len;
      }
    }
    return grid;
  }

  /**
   * Whether packing {@code groups} costs fewer FLOPs than their prompt + response rows padded
   * alone. Packing runs each prompt once but attends over the whole packed row: it pays for many
   * short responses to a long prompt, and costs more for many long responses, whose row's attention
   * grows with the square of all of them.
   */
  static boolean pays(List<ResponseGroup> groups, ModelConfig c) {
    return flops(groups, c, true) < flops(groups, c, false);
  }

  /**
   * A forward's FLOPs over {@code groups}, packed (a row per group, padded to the widest) or each
   * response alone after its prompt (padded to the widest such row): the matmuls below the head per
   * token, and attention per pair of positions.
   */
  static double flops(List<ResponseGroup> groups, ModelConfig c, boolean packed) {
    double perToken = 2.0 * (c.matmulParams() - (long) c.vocabSize() * c.hiddenSize());
    double perPair = 4.0 * c.numLayers() * c.numHeads() * c.headDim();
    long packedWidth = width(groups);
    long aloneWidth = 0;
    long alone = 0;
    for (ResponseGroup g : groups) {
      for (long[] r : g.responses()) {
        aloneWidth = Math.max(aloneWidth, g.prompt().length + r.length);
        alone++;
      }
    }
    return packed
        ? groups.size() * (packedWidth * perToken + packedWidth * packedWidth * perPair)
        : alone * (aloneWidth * perToken + aloneWidth * aloneWidth * perPair);
  }

  /** As {@link #sequenceLogps}, the model coming from {@code run} (a reference's apply). */
  NDArray sequenceLogps(NDManager m, Function<Function<CausalLM, NDArray>, NDArray> run) {
    return run.apply(model -> sequenceLogps(m, model));
  }
}
