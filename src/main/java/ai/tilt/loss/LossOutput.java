package ai.tilt.loss;

import ai.djl.ndarray.NDArray;
import java.util.Map;

/**
 * A loss's result for a micro-batch of G groups.
 *
 * @param perGroup (G) the loss of each group; the trainer sums them and divides by the number of
 *     groups in the accumulation window, so every group weighs the same
 * @param metrics name -> (G) per-group values, averaged over the window by the trainer; names
 *     follow TRL ({@code rewards/chosen}, {@code rewards/rejected}, {@code rewards/margins}, {@code
 *     rewards/accuracies}, {@code logps/chosen}, {@code logps/rejected}, ...); computed without a
 *     graph
 */
public record LossOutput(NDArray perGroup, Map<String, NDArray> metrics) {}
