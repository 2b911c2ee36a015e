package ai.tilt.sampling;

import java.util.List;

/**
 * What on-policy collection needs from a generator: C samples of each prompt, sample k of prompt g
 * drawn from the stream (groupSeeds[g], k). {@link Generator} samples in this process; {@link
 * CompletionsClient} asks an OpenAI-compatible server (vLLM, SGLang, {@code tilt serve}).
 */
public interface GroupGenerator {
  /**
   * @param prompts B prompts, token ids
   * @param params how to sample; its seed is not used (the group seeds are)
   * @param groupSeeds one seed per prompt
   * @return B*C generations, prompt by prompt, each with the sampler's per-token log-probs
   */
  List<Generator.Generation> generateGroups(
      List<long[]> prompts, int samplesPerPrompt, SamplingParams params, long[] groupSeeds);
}
