package ai.tilt.model;

import ai.tilt.model.ModelConfig.Activation;
import ai.tilt.model.ModelConfig.Family;
import ai.tilt.model.ModelConfig.Norm;
import ai.tilt.model.ModelConfig.Rope;

/**
 * Model sizes for {@code tilt init-model} and the benchmarks. The Llama and GPT-2 sizes are those
 * of shared/anchor/make_model.py (tiny d64/2 layers, small d256/4 layers, medium d768/6 layers with
 * 12 query over 4 KV heads), so Tilt and the TRL anchor run the same shapes.
 */
public final class Presets {
  private Presets() {}

  /** The sizes a preset name stands for. */
  public record Size(int hidden, int layers, int heads, int kvHeads, int ffnGated, int ffnPlain) {}

  public static Size size(String preset) {
    return switch (preset) {
      case "nano" ->
          new Size(48, 3, 3, 3, 192, 192); // minGPT's gpt-nano, the paper's transformer bandit
      case "tiny" -> new Size(64, 2, 4, 4, 256, 256);
      case "small" -> new Size(256, 4, 8, 8, 1024, 1024);
      case "medium" -> new Size(768, 6, 12, 4, 2048, 3072);
      default ->
          throw new IllegalArgumentException(
              "unknown preset '" + preset + "' (nano, tiny, small, medium)");
    };
  }

  /**
   * The config of a fresh model of a family and size; each family keeps its own features (Qwen2
   * q/k/v biases, Qwen3 q/k norms and an explicit head_dim, NeoX partial rotary, GPT-2 learned
   * positions), so a tiny model exercises the same code paths as a real one.
   */
  public static ModelConfig config(
      Family family, String preset, int vocabSize, Long bos, long[] eos, Long pad) {
    Size s = size(preset);
    int headDim = s.hidden() / s.heads();
    int positions = 1024;
    return switch (family) {
      case GPT2 ->
          new ModelConfig(
              family,
              vocabSize,
              s.hidden(),
              s.layers(),
              s.heads(),
              s.heads(),
              headDim,
              s.ffnPlain(),
              Norm.LAYER,
              1e-5,
              Activation.GELU_TANH,
              false,
              positions,
              null,
              true,
              true,
              true,
              false,
              0,
              false,
              true,
              bos,
              eos,
              pad);
      case GPT_NEOX ->
          new ModelConfig(
              family,
              vocabSize,
              s.hidden(),
              s.layers(),
              s.heads(),
              s.heads(),
              headDim,
              s.ffnPlain(),
              Norm.LAYER,
              1e-5,
              Activation.GELU,
              false,
              positions,
              new Rope(10000.0, headDim / 4, null),
              true,
              true,
              true,
              false,
              0,
              true,
              false,
              bos,
              eos,
              pad);
      default ->
          new ModelConfig(
              family,
              vocabSize,
              s.hidden(),
              s.layers(),
              s.heads(),
              family == Family.LLAMA || family == Family.MISTRAL
                  ? s.kvHeads()
                  : Math.max(1, s.heads() / 2),
              headDim,
              s.ffnGated(),
              Norm.RMS,
              1e-5,
              Activation.SILU,
              true,
              positions,
              new Rope(family == Family.QWEN2 || family == Family.QWEN3 ? 1e6 : 1e4, headDim, null),
              family == Family.QWEN2,
              false,
              false,
              family == Family.QWEN3,
              family == Family.MISTRAL ? 4096 : 0,
              false,
              true,
              bos,
              eos,
              pad);
    };
  }
}
