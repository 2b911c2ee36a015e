package ai.tilt.loss;

import ai.djl.ndarray.NDArray;

/**
 * What a preference loss sees of a micro-batch: G groups (one prompt each) of N responses, as
 * sequence-level quantities. Row g, column i is response i of prompt g. For pairs N = 2, column 0
 * is the chosen response and column 1 the rejected one; for KTO N = 1; for scored lists (RWR,
 * Best-of-N) N is the number of responses per prompt.
 *
 * @param policy (G, N) sum over the response's tokens of log pi_theta(y_t | x, y_<t); carries the
 *     graph back to the policy's weights
 * @param reference (G, N) the same under the frozen reference model, no graph; null for
 *     reference-free losses
 * @param lengths (G, N) response lengths in tokens (float), for length-normalised losses
 * @param rewards (G, N) the data's scores: score_chosen/score_rejected of a pair (1 and 0 when the
 *     data has none), the KTO label (1 desirable, 0 undesirable), or the rewards of a scored list
 * @param klPolicy (G) KTO only: log pi_theta of a mismatched completion (another prompt's response
 *     under this prompt), for the KL estimate; null otherwise
 * @param klReference (G) KTO only: the same under the reference; null otherwise
 */
public record Responses(
    NDArray policy,
    NDArray reference,
    NDArray lengths,
    NDArray rewards,
    NDArray klPolicy,
    NDArray klReference) {

  /** Shorthand for the losses that need no KL batch. */
  public static Responses of(NDArray policy, NDArray reference, NDArray lengths, NDArray rewards) {
    return new Responses(policy, reference, lengths, rewards, null, null);
  }
}
