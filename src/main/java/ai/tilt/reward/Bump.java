package ai.tilt.reward;

import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonIgnore;

/**
 * The paper's bandit reward (Tajwar et al., 2024, arXiv:2404.14367; code {@code
 * reward_functions.py}, section 4.1 of shared/notes/paper.md): a Gaussian bump over token ids, r =
 * mean over tokens of exp(-((id - center) / width)^2), at most 1.
 *
 * <p>The 1-D bandit's {@code reward_4} is center 70 (far from the reference policy's mode) and
 * {@code reward_5} center 20 (near it), both width 10; {@code reward_8}/{@code reward_9} are width
 * 20/30 at 70. The transformer bandit ({@code reward_6}, {@code reward_7}) averages over all ten
 * tokens, the one-token prompt included: set {@code include_prompt: true} for that.
 *
 * <p>Tokens averaged: the completion's ids, without the trailing stop token of a finished
 * completion (the bandit has no EOS, so a stop token is not an action and must not dilute the
 * mean), plus the prompt ids when {@code include_prompt}. An empty set of tokens (an immediate
 * stop, no prompt) scores 0, the bump's floor.
 *
 * @param center token id at the peak (default 70, the paper's "not aligned" reward)
 * @param width scale of the bump in token ids (default 10, > 0)
 * @param includePrompt average over the prompt ids as well (default false; true for the transformer
 *     bandit)
 */
public record Bump(
    @Doc("token id at the peak (default 70; the paper also uses 20)") Double center,
    @Doc("width of the bump in token ids (default 10)") Double width,
    @Doc("average over the prompt ids too, as the paper's transformer bandit (default false)")
        Boolean includePrompt)
    implements RewardSpec {

  public Bump {
    center = center == null ? 70.0 : center;
    width = width == null ? 10.0 : width;
    includePrompt = includePrompt != null && includePrompt;
    Rules.finite("center", center);
    Rules.positive("width", width);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "bump";
  }

  @Override
  public Reward create(RewardContext ctx) {
    return Rules.perItem(
        type(),
        in -> {
          long[] ids = Rules.contentIds(in);
          double sum = 0;
          int n = 0;
          if (includePrompt) {
            for (long id : in.promptIds()) {
              sum += bump(id);
              n++;
            }
          }
          for (long id : ids) {
            sum += bump(id);
            n++;
          }
          return n == 0 ? 0.0 : sum / n;
        });
  }

  /** The bump at one token id. */
  double bump(long id) {
    double z = (id - center) / width;
    return Math.exp(-z * z);
  }
}
