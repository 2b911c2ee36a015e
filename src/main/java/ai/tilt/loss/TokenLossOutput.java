package ai.tilt.loss;

import ai.djl.ndarray.NDArray;
import java.util.Map;

/**
 * A policy-gradient loss's result for a micro-batch of B completions. The loss does not normalise:
 * the trainer divides over its accumulation window, either {@code per_token} (sum of every perToken
 * cell / total completion tokens in the window; DAPO's token-level mean, TRL GRPO's default {@code
 * loss_type: dapo}, the Tajwar et al. REINFORCE code's token mean) or {@code per_sequence} (mean
 * over the window's sequences of each sequence's token mean; the original GRPO objective, TRL's
 * {@code loss_type: grpo}).
 *
 * @param perToken (B, T) the loss of each token, with graph; exactly 0 on padding
 * @param metrics name -> (B) per-sequence values (token means over the sequence's completion
 *     tokens, 0 for a sequence without any), no graph; averaged over the window by the trainer
 */
public record TokenLossOutput(NDArray perToken, Map<String, NDArray> metrics) {}
