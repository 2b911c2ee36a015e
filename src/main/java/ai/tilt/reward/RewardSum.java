package ai.tilt.reward;

import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Several rewards in one, weighted and summed: r = sum_i w_i r_i (TRL's {@code reward_funcs} with
 * {@code reward_weights}; verl's and OpenRLHF's composite rewards). Written in a recipe as a list,
 * {@code online.reward: [{type: math}, {type: overlong, max_length: 40, buffer: 8, weight: 1}]},
 * which the recipe loader turns into this record ({@code weight} and {@code name} leave each item
 * for its term); each term's own scores are logged under {@code rewards/NAME/mean} and {@code
 * /std}, NAME being the term's {@code name} or its type (type_2, type_3 for repeats).
 *
 * @param terms the weighted rewards, at least one
 */
public record RewardSum(@Doc("the weighted rewards: [{weight, name, reward}]") List<Term> terms)
    implements RewardSpec {

  /**
   * One weighted reward.
   *
   * @param name what its scores are logged as (default: its type)
   * @param weight its weight in the sum (default 1)
   * @param reward the reward
   */
  public record Term(
      @Doc("logged as rewards/NAME (default: the reward's type)") String name,
      @Doc("weight in the sum (default 1)") Double weight,
      @Doc("the reward") RewardSpec reward) {
    public Term {
      weight = weight == null ? 1.0 : weight;
      Rules.finite("weight", weight);
      Rules.required("reward", reward, "each term of a reward list is a reward");
      Rules.require(
          !(reward instanceof RewardSum), "a reward list cannot hold another reward list");
    }
  }

  public RewardSum {
    Rules.require(terms != null && !terms.isEmpty(), "a reward list needs at least one reward");
    terms = List.copyOf(terms);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "sum";
  }

  /**
   * The logged name of each term, in order: its name, else its type, numbered when the type repeats
   * (min_length, min_length_2); two terms logged under one name are refused.
   */
  public List<String> names() {
    Map<String, Integer> seen = new HashMap<>();
    List<String> out = new ArrayList<>();
    for (Term t : terms) {
      if (t.name() != null) {
        out.add(t.name());
      } else {
        int n = seen.merge(t.reward().type(), 1, Integer::sum);
        out.add(n == 1 ? t.reward().type() : t.reward().type() + "_" + n);
      }
    }
    Rules.require(
        out.stream().distinct().count() == out.size(),
        "reward list: two terms are logged under one name " + out + "; give them names");
    return out;
  }

  @Override
  public Reward create(RewardContext ctx) {
    List<String> names = names();
    List<Reward> made = new ArrayList<>();
    try {
      for (Term t : terms) {
        made.add(t.reward().create(ctx));
      }
    } catch (RuntimeException e) {
      made.forEach(Reward::close);
      throw e;
    }
    return new Reward() {
      @Override
      public double[] score(List<RewardInput> batch) {
        return scoreParts(batch).total();
      }

      @Override
      public Scores scoreParts(List<RewardInput> batch) {
        double[] total = new double[batch.size()];
        Map<String, double[]> parts = new LinkedHashMap<>();
        for (int i = 0; i < made.size(); i++) {
          double[] s = made.get(i).score(batch);
          double w = terms.get(i).weight();
          for (int k = 0; k < total.length; k++) {
            total[k] += w * s[k];
          }
          parts.put(names.get(i), s);
        }
        return new Scores(total, parts);
      }

      @Override
      public void close() {
        made.forEach(Reward::close);
      }
    };
  }
}
