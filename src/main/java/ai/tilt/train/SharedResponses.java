package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.data.ResponseGroup;
import ai.tilt.data.SftExample;
import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelConfig;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The distinct sequences of a micro-batch whose groups share responses: every pair of a prompt's C
 * samples (the paper's transformer bandit trains on all 45 pairs of 10) holds C (C - 1) responses
 * but only C distinct ones. Each distinct prompt + response runs once, and the groups' (G, N)
 * log-probs are gathered from those; the gradient reaching a shared sequence is the sum over the
 * groups it is in, as it is when each group runs its own copy. Prompts and responses are matched by
 * identity (a rollout hands the same arrays to every group of a prompt), so a data set's equal but
 * separate rows are simply not shared.
 *
 * <p>Each distinct prompt's responses are packed after it ({@link PackedRows}) where the FLOP count
 * says that pays and the row is at most twice as wide as a group's packed row or {@link #WIDE}
 * tokens (attention's memory grows with the width squared), else each runs as its own row; packed,
 * prompts with fewer distinct responses than the most repeat their first (run, never read), as
 * packing wants equal group sizes. With LoRA dropout a shared sequence draws one mask where each
 * copy would have drawn its own: the same gradient in expectation.
 */
final class SharedResponses {
  // one per distinct prompt: its distinct responses (packed: padded to equal counts)
  private final List<ResponseGroup> rows;

  /** Packed rows up to this wide are never refused for their width. */
  static final long WIDE = 512;

  private final long[] index; // (G * N) where each group's response sits among the rows' sums
  private final int groups;
  private final int perGroup;
  private final boolean packed;
  private final int window;
  private PackedRows pack; // the packed layout's input, or
  private List<SftExample> alone; // the rows-alone layout's, once made

  private SharedResponses(
      List<ResponseGroup> rows,
      long[] index,
      int groups,
      int perGroup,
      boolean packed,
      int window) {
    this.rows = rows;
    this.index = index;
    this.groups = groups;
    this.perGroup = perGroup;
    this.packed = packed;
    this.window = window;
  }

  /**
   * The shared form of equal-size {@code groups}, or null when no sequence repeats or running the
   * distinct ones costs no fewer FLOPs than packing each group.
   */
  static SharedResponses of(List<ResponseGroup> groups, ModelConfig config) {
    int g = groups.size();
    int n = groups.get(0).size();
    Map<long[], Integer> promptAt = new IdentityHashMap<>();
    List<ResponseGroup> firstOfPrompt = new ArrayList<>();
    List<List<long[]>> responses = new ArrayList<>();
    List<Map<long[], Integer>> responseAt = new ArrayList<>();
    int[] where = new int[g * n * 2]; // [prompt, response] of each group response
    int distinct = 0;
    for (int a = 0; a < g; a++) {
      ResponseGroup group = groups.get(a);
      Integer p = promptAt.get(group.prompt());
      if (p == null) {
        p = firstOfPrompt.size();
        promptAt.put(group.prompt(), p);
        firstOfPrompt.add(group);
        responses.add(new ArrayList<>());
        responseAt.add(new IdentityHashMap<>());
      }
      for (int j = 0; j < n; j++) {
        long[] r = group.responses().get(j);
        Integer k = responseAt.get(p).get(r);
        if (k == null) {
          k = responses.get(p).size();
          responseAt.get(p).put(r, k);
          responses.get(p).add(r);
          distinct++;
        }
        where[2 * (a * n + j)] = p;
        where[2 * (a * n + j) + 1] = k;
      }
    }
    if (distinct == g * n) {
      return null;
    }
    int width = 0; // N': the most distinct responses of a prompt
    for (List<long[]> rs : responses) {
      width = Math.max(width, rs.size());
    }
    List<ResponseGroup> padded = new ArrayList<>(); // for packing, which wants equal sizes
    List<ResponseGroup> distinctRows = new ArrayList<>();
    int[] offset = new int[responses.size()]; // each prompt's first response among all distinct
    for (int p = 0; p < responses.size(); p++) {
      ResponseGroup first = firstOfPrompt.get(p);
      List<long[]> rs = responses.get(p);
      distinctRows.add(
          new ResponseGroup(first.prompt(), rs, new double[rs.size()], first.line(), false));
      List<long[]> filled = new ArrayList<>(rs);
      while (filled.size() < width) {
        filled.add(rs.get(0));
      }
      padded.add(new ResponseGroup(first.prompt(), filled, new double[width], first.line(), false));
      offset[p] = p == 0 ? 0 : offset[p - 1] + responses.get(p - 1).size();
    }
    double packedCost = PackedRows.flops(padded, config, true);
    double aloneCost = PackedRows.flops(distinctRows, config, false);
    // attention's memory grows with a row's width squared, which FLOPs barely see at a large
    // model's size: no packed row wider than twice a group's row, past a width where it is small
    boolean packed =
        packedCost < aloneCost
            && PackedRows.width(padded) <= Math.max(WIDE, 2 * PackedRows.width(groups));
    if ((packed ? packedCost : aloneCost) >= PackedRows.flops(groups, config, true)) {
      return null; // too little is shared to beat packing each group
    }
    long[] index = new long[g * n];
    for (int i = 0; i < g * n; i++) {
      int p = where[2 * i];
      int k = where[2 * i + 1];
      index[i] = packed ? (long) p * width + k : offset[p] + k;
    }
    return new SharedResponses(
        packed ? padded : distinctRows, index, g, n, packed, config.slidingWindow());
  }

  /** Whether each prompt's distinct responses are packed after it (else each runs alone). */
  boolean packed() {
    return packed;
  }

  /** Sequences that run: the distinct ones, plus a packed layout's repeats. */
  int sequences() {
    return rows.stream().mapToInt(ResponseGroup::size).sum();
  }

  /**
   * Each group response's log-prob sum under {@code model}, with a graph when one is recorded.
   *
   * @return (G, N)
   */
  NDArray sequenceLogps(NDManager m, CausalLM model, long pad) {
    NDArray flat; // (P * N') packed, (distinct) alone
    if (packed) {
      if (pack == null) { // built once for the policy and the reference
        pack = PackedRows.pack(rows, pad, window);
      }
      flat = pack.sequenceLogps(m, model).reshape(-1);
    } else {
      if (alone == null) {
        alone = new ArrayList<>();
        for (ResponseGroup row : rows) {
          for (long[] r : row.responses()) {
            alone.add(Rows.row(row.prompt(), r, row.line()));
          }
        }
      }
      flat = Rows.sequenceLogps(m, model::tokenLogprobs, alone, pad);
    }
    return flat.gather(m.create(index, new Shape(index.length)), 0).reshape(groups, perGroup);
  }
}
