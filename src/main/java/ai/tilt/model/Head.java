package ai.tilt.model;

/**
 * What sits on top of the transformer: the LM head of a *ForCausalLM (next-token logits), or the
 * scalar score of a *ForSequenceClassification with one label (a reward model: {@code score.weight}
 * of shape [1, d], read at the last real token).
 */
public enum Head {
  LM,
  SCORE;

  /** The HF class name of a family with this head. */
  public String architecture(ModelConfig.Family family) {
    if (this == LM) {
      return family.architecture;
    }
    String base = family.architecture.replace("LMHeadModel", "").replace("ForCausalLM", "");
    return base + "ForSequenceClassification";
  }
}
