package ai.tilt.loss;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/**
 * A training objective, chosen in a recipe as {@code loss: sft} or {@code loss: {type: dpo, beta:
 * 0.1}} and bound to one of these records once, when the recipe is read. Each record holds its
 * hyperparameters and computes its loss as a pure function of log-probs (no model, optimizer or
 * I/O); the trainer branches on the type in one place.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "type")
@JsonSubTypes({@JsonSubTypes.Type(value = Sft.class, name = "sft")})
public sealed interface Loss permits Sft {
  /** The name used in recipes. */
  String type();
}
