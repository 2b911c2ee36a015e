package ai.tilt.cli;

import ai.tilt.model.CausalLM;
import ai.tilt.model.LoraFiles;
import ai.tilt.model.Precision;
import ai.tilt.runtime.Devices;
import ai.tilt.tokenizer.TextTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The model flags of the verbs that run a policy (generate, logprobs, eval, data pairs): a HF model
 * directory, or a PEFT LoRA adapter on its base (a Tilt LoRA checkpoint, or what PEFT's {@code
 * save_pretrained} writes).
 */
final class ModelOptions {
  @Option(
      names = "--model",
      required = true,
      description =
          "HF model directory, or a PEFT adapter directory (its base_model_name_or_path is loaded"
              + " under it)")
  Path model;

  @Option(
      names = "--adapter",
      paramLabel = "DIR",
      description = "a PEFT LoRA adapter to put on --model (a Tilt LoRA checkpoint, or PEFT's)")
  Path adapter;

  /** The model, with its adapter when there is one, computing in {@code precision}. */
  CausalLM load(Precision precision) throws IOException {
    return LoraFiles.loadWithBase(model, adapter, Devices.current(), precision);
  }

  /** The directory of the base weights: --model, or the base an adapter directory names. */
  Path base() throws IOException {
    if (adapter == null
        && LoraFiles.isAdapter(model)
        && !Files.exists(model.resolve("config.json"))) {
      return LoraFiles.baseOf(model);
    }
    return model;
  }

  /** The tokenizer of the adapter's directory, else the model's, else the base's; null if none. */
  TextTokenizer tokenizer() throws IOException {
    for (Path dir : new Path[] {adapter, model, base()}) {
      if (dir != null && Files.exists(dir.resolve("tokenizer.json"))) {
        return TextTokenizer.load(dir);
      }
    }
    return null;
  }
}
