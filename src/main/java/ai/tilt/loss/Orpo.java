package ai.tilt.loss;

import static ai.tilt.loss.LossMath.col;

import ai.djl.ndarray.NDArray;
import ai.tilt.doc.Doc;
import ai.tilt.runtime.Scalars;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.Map;

/**
 * Odds Ratio Preference Optimization: Hong, Lee and Thorne, 2024, "ORPO: Monolithic Preference
 * Optimization without Reference Model", arXiv:2403.07691.
 *
 * <p>Intuition: SFT on the chosen response plus a small penalty that widens the odds ratio between
 * chosen and rejected, so one stage does both instruction tuning and preference alignment without a
 * reference model.
 *
 * <p>Conventions: N = 2 (column 0 chosen, 1 rejected); reference-free; a_i = pi_i / len_i (mean
 * token log-prob), log odds(a) = a - log(1 - exp(a)) (computed stably, see {@link
 * LossMath#log1mExp}); the loss of a group is -a_c + lambda (-log sigmoid(log odds(a_c) - log
 * odds(a_r))), with lambda named {@code beta} as in TRL. The NLL term here is each chosen
 * response's token mean; TRL's is the token mean over the whole batch's chosen tokens, which weighs
 * long responses more.
 *
 * <p>Metrics: TRL's: rewards/chosen = beta a_c, rewards/rejected = beta a_r, rewards/margins,
 * rewards/accuracies, logps/chosen = a_c, logps/rejected = a_r, nll_loss = -a_c, log_odds_ratio =
 * log sigmoid(log odds difference), log_odds_chosen = the log odds difference.
 *
 * @param beta lambda, the weight of the odds-ratio term (default 0.1, TRL's)
 */
public record Orpo(
    @Doc("lambda: weight of the odds-ratio term next to the chosen NLL (TRL default 0.1)")
        Double beta)
    implements GroupLoss {

  public Orpo {
    beta = beta == null ? 0.1 : beta;
    LossMath.positive("beta", beta);
  }

  @Override
  @JsonIgnore
  public String type() {
    return "orpo";
  }

  @Override
  public boolean needsReference() {
    return false;
  }

  @Override
  public Grouping grouping() {
    return Grouping.PAIRS;
  }

  @Override
  public LossOutput compute(Responses r) {
    LossMath.checkPolicy(type(), r, 2, 0);
    NDArray avg = r.policy().div(LossMath.lengths(type(), r)); // (G, 2) mean token log-probs
    NDArray logOdds = avg.sub(LossMath.log1mExp(avg)); // (G, 2)
    NDArray diff = col(logOdds, 0).sub(col(logOdds, 1)); // (G)
    NDArray ratio = LossMath.logSigmoid(diff); // (G)
    NDArray nll = col(avg, 0).neg(); // (G)
    NDArray loss = nll.sub(Scalars.mul(ratio, beta.floatValue()));
    float b = beta.floatValue();
    Map<String, NDArray> m =
        LossMath.pairMetrics(
            Scalars.mul(col(avg, 0), b), Scalars.mul(col(avg, 1), b), col(avg, 0), col(avg, 1));
    m.put("nll_loss", nll.stopGradient());
    m.put("log_odds_ratio", ratio.stopGradient());
    m.put("log_odds_chosen", diff.stopGradient());
    return new LossOutput(loss, m);
  }
}
