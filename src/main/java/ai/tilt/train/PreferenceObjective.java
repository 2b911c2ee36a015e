package ai.tilt.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.data.ResponseGroup;
import ai.tilt.data.SftExample;
import ai.tilt.loss.GroupLoss;
import ai.tilt.loss.LossOutput;
import ai.tilt.loss.Responses;
import ai.tilt.model.CausalLM;
import ai.tilt.runtime.NativeMemory;
import ai.tilt.runtime.NoGrad;
import ai.tilt.runtime.Scalars;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The preference losses (DPO family, KTO, Pref-FT, RWR, Best-of-N) over groups of responses: every
 * response of every group in a micro-batch goes through one concatenated forward (chosen and
 * rejected together, as TRL does), is reduced to its sequence-level log-prob sum, and the loss sees
 * (G, N) arrays. Each group weighs the same: a micro-batch's loss is the sum of its groups' losses
 * divided by the number of groups in the whole accumulation window.
 *
 * <p>Reference log-probs come from a frozen {@link ReferenceModel} computed alongside, or from
 * values known beforehand: precomputed once for a dataset ({@link ReferenceCache}) or collected
 * with a rollout.
 */
public final class PreferenceObjective implements DatasetObjective {
  private final CausalLM policy;
  private final ReferenceModel reference; // null when the values are known or not needed
  private final GroupLoss loss;
  private final long padId;
  private final List<ResponseGroup> train;
  private final List<ResponseGroup> eval;
  private final float[][] trainReference; // [group][response] known beforehand, or null
  private final float[][] evalReference;
  private final String summary;

  /**
   * A rollout's groups, whose reference log-prob sums were taken at collection: no reference model,
   * no held-out data.
   */
  static PreferenceObjective onRollout(
      CausalLM policy,
      GroupLoss loss,
      long padId,
      List<ResponseGroup> groups,
      float[][] referenceSums) {
    return new PreferenceObjective(
        policy, null, loss, padId, groups, List.of(), referenceSums, null, "");
  }

  /** Groups trained against a reference model, with no held-out data (benchmarks). */
  public static PreferenceObjective against(
      CausalLM policy,
      ReferenceModel reference,
      GroupLoss loss,
      long padId,
      List<ResponseGroup> groups) {
    return new PreferenceObjective(
        policy, reference, loss, padId, groups, List.of(), null, null, "");
  }

  /**
   * @param reference the frozen reference, or null when its log-probs are given or not needed
   * @param trainReference each training group's reference log-prob sums, known beforehand, or null
   * @param evalReference the same for the held-out groups
   * @param summary what the data loader said of the data, for the run's first log line
   */
  public PreferenceObjective(
      CausalLM policy,
      ReferenceModel reference,
      GroupLoss loss,
      long padId,
      List<ResponseGroup> train,
      List<ResponseGroup> eval,
      float[][] trainReference,
      float[][] evalReference,
      String summary) {
    this.policy = policy;
    this.reference = reference;
    this.loss = loss;
    this.padId = padId;
    this.train = train;
    this.eval = eval;
    this.trainReference = trainReference;
    this.evalReference = evalReference;
    this.summary = summary;
    if (loss.needsReference() && reference == null && trainReference == null) {
      throw new IllegalArgumentException("loss " + loss.type() + " needs a reference model");
    }
    if (loss.needsKlBatch() && loss.needsReference() && reference == null) {
      throw new IllegalArgumentException(
          "loss "
              + loss.type()
              + " estimates its KL term from responses paired with other prompts, which needs the"
              + " reference model itself, not precomputed log-probs");
    }
  }

  @Override
  public int trainSize() {
    return train.size();
  }

  @Override
  public GroupWindow prepare(List<List<Integer>> micros) {
    int groups = 0;
    long tokens = 0;
    for (List<Integer> micro : micros) {
      for (int g : micro) {
        ResponseGroup group = train.get(g);
        groups++;
        for (int j = 0; j < group.size(); j++) {
          tokens += group.prompt().length + group.responses().get(j).length;
        }
      }
    }
    return new GroupWindow(micros, groups, tokens);
  }

  @Override
  public NDArray microLoss(NDManager step, Window w, int i) {
    GroupWindow pw = (GroupWindow) w;
    LossOutput out = compute(step, train, trainReference, pw.micros.get(i));
    pw.sums.add(out.metrics());
    return Scalars.div(out.perGroup().sum(), (float) pw.divisor());
  }

  @Override
  public MetricSums metrics(Window w) {
    return ((GroupWindow) w).sums;
  }

  @Override
  public boolean hasEval() {
    return !eval.isEmpty();
  }

  @Override
  public Map<String, Double> evaluate(NDManager parent, int microBatch) {
    return MetricSums.heldOut(
        parent, eval.size(), microBatch, (m, idx) -> compute(m, eval, evalReference, idx));
  }

  @Override
  public String describe() {
    String ref = "";
    if (loss.needsReference()) {
      ref = trainReference != null ? "; reference log-probs known" : "; frozen reference model";
    }
    return summary + (eval.isEmpty() ? "" : "; " + eval.size() + " eval groups") + ref;
  }

  /** The loss of some groups: one policy forward (and one reference forward) over all responses. */
  private LossOutput compute(
      NDManager m, List<ResponseGroup> data, float[][] known, List<Integer> idx) {
    int g = idx.size();
    int n = data.get(idx.get(0)).size();
    List<ResponseGroup> groups = new ArrayList<>(g);
    float[] lengths = new float[g * n];
    float[] rewards = new float[g * n];
    for (int a = 0; a < g; a++) {
      ResponseGroup group = data.get(idx.get(a));
      if (group.size() != n) {
        throw new IllegalArgumentException(
            "line "
                + group.line()
                + ": "
                + group.size()
                + " responses, but line "
                + data.get(idx.get(0)).line()
                + " of the same micro-batch has "
                + n
                + "; use equal-size groups");
      }
      groups.add(group);
      for (int j = 0; j < n; j++) {
        lengths[a * n + j] = group.responses().get(j).length;
        rewards[a * n + j] = (float) group.rewards()[j];
      }
    }
    Shape gn = new Shape(g, n);
    // groups that share responses (all pairs of a prompt's samples) run each distinct one once;
    // else a group's responses share one copy of its prompt (PackedRows)
    SharedResponses shared = SharedResponses.of(groups, policy.config());
    PackedRows packed =
        shared != null ? null : PackedRows.pack(groups, padId, policy.config().slidingWindow());
    NDArray policyLogps = // (G, N)
        shared != null ? shared.sequenceLogps(m, policy, padId) : packed.sequenceLogps(m, policy);
    NDArray referenceLogps = null; // (G, N)
    if (loss.needsReference()) {
      if (known != null) {
        float[] values = new float[g * n];
        for (int a = 0; a < g; a++) {
          System.arraycopy(known[idx.get(a)], 0, values, a * n, n);
        }
        referenceLogps = m.create(values, gn);
      } else {
        referenceLogps =
            shared != null
                ? reference.apply(model -> shared.sequenceLogps(m, model, padId))
                : packed.sequenceLogps(m, reference::apply);
        NativeMemory.trim(); // the reference's freed activations, before backward needs memory
      }
    }
    NDArray klPolicy = null; // (G)
    NDArray klReference = null; // (G)
    if (loss.needsKlBatch()) {
      List<SftExample> mismatched = mismatched(data, idx);
      try (NoGrad off = NoGrad.enter()) {
        klPolicy = Rows.sequenceLogps(m, policy::tokenLogprobs, mismatched, padId);
      }
      klReference =
          reference != null
              ? Rows.sequenceLogps(m, reference::tokenLogprobs, mismatched, padId)
              : klPolicy.zerosLike();
    }
    return loss.compute(
        new Responses(
            policyLogps,
            referenceLogps,
            m.create(lengths, gn),
            m.create(rewards, gn),
            klPolicy,
            klReference));
  }

  /**
   * KTO's KL batch: each group's prompt followed by the first response of a group with another
   * prompt (TRL's KTO shifts completions within the batch). The partner is drawn from a permutation
   * seeded by the micro-batch's own indices, so a resumed run draws the same pairs; groups whose
   * prompt is the same (an example's desirable and undesirable twins) are never paired, since a
   * response under its own prompt is no estimate of the KL.
   *
   * @throws IllegalArgumentException when the micro-batch has a single distinct prompt
   */
  static List<SftExample> mismatched(List<ResponseGroup> data, List<Integer> idx) {
    int g = idx.size();
    SplittableRandom rnd = Streams.ktoPartners(idx);
    int[] perm = new int[g];
    for (int i = 0; i < g; i++) {
      perm[i] = i;
    }
    for (int i = g - 1; i > 0; i--) {
      int j = rnd.nextInt(i + 1);
      int tmp = perm[i];
      perm[i] = perm[j];
      perm[j] = tmp;
    }
    int[] position = new int[g];
    for (int i = 0; i < g; i++) {
      position[perm[i]] = i;
    }
    List<SftExample> out = new ArrayList<>(g);
    for (int a = 0; a < g; a++) {
      ResponseGroup mine = data.get(idx.get(a));
      ResponseGroup partner = null;
      for (int k = 1; k < g && partner == null; k++) {
        ResponseGroup other = data.get(idx.get(perm[(position[a] + k) % g]));
        if (!Arrays.equals(other.prompt(), mine.prompt())) {
          partner = other;
        }
      }
      if (partner == null) {
        throw new IllegalArgumentException(
            "kto: the KL estimate pairs each prompt with another prompt's response, but a"
                + " micro-batch of "
                + g
                + (g == 1 ? " example has" : " examples has")
                + " only one distinct prompt (line "
                + mine.line()
                + "); raise train.micro_batch_size to 2 or more (TRL refuses a batch of 1 for"
                + " the same reason)");
      }
      out.add(Rows.row(mine.prompt(), partner.responses().get(0), mine.line()));
    }
    return out;
  }
}
