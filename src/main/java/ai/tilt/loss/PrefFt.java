package ai.tilt.loss;

import static ai.tilt.loss.LossMath.col;

import ai.djl.ndarray.NDArray;
import ai.tilt.doc.Doc;
import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Pref-FT, supervised fine-tuning on the preferred responses of a preference data set: the baseline
 * of Tajwar, Singh, Sharma, Rafailov, Schneider, Xie, Ermon, Finn and Kumar, 2024, "Preference
 * Fine-Tuning of LLMs Should Leverage Suboptimal, On-Policy Data", arXiv:2404.14367.
 *
 * <p>Intuition: maximum likelihood on y_w only; there is no negative gradient, so the rejected
 * response is never pushed down (which is the paper's point of comparison).
 *
 * <p>Conventions: groups are pairs (N = 2, what {@link #grouping()} asks for) but any N >= 1 is
 * accepted; only column 0 (the chosen response) is trained. The loss of a group is -pi_c (the
 * sequence sum, the paper's equation) or, with {@code length_normalize: true}, -pi_c / len_c (the
 * per-sequence token mean, like the paper's code, which takes the token mean over the batch). No
 * reference is used.
 *
 * <p>Metrics: logps/chosen = the log-prob the loss uses (sum, or mean when length-normalised) and,
 * when N >= 2, logps/rejected the same for column 1, monitored only (it typically rises too).
 *
 * @param lengthNormalize per-token mean instead of sequence sum (default false)
 */
public record PrefFt(
    @Doc("train on the chosen response's per-token mean log-prob instead of its sum")
        Boolean lengthNormalize)
    implements GroupLoss {

  public PrefFt {
    lengthNormalize = lengthNormalize != null && lengthNormalize;
  }

  @Override
  @JsonIgnore
  public String type() {
    return "pref_ft";
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
    int n = LossMath.checkPolicy(type(), r, 0, 1);
    NDArray logp =
        lengthNormalize ? r.policy().div(LossMath.lengths(type(), r)) : r.policy(); // (G, N)
    NDArray loss = col(logp, 0).neg(); // (G)
    Map<String, NDArray> m = new LinkedHashMap<>();
    m.put("logps/chosen", col(logp, 0).stopGradient());
    if (n >= 2) {
      m.put("logps/rejected", col(logp, 1).stopGradient());
    }
    return new LossOutput(loss, m);
  }
}
