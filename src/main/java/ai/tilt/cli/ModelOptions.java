package ai.tilt.cli;

import ai.tilt.model.CausalLM;
import ai.tilt.model.LoraFiles;
import ai.tilt.model.Precision;
import ai.tilt.runtime.Devices;
import ai.tilt.runtime.HubCache;
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
          "HF model directory, a hub name in the HuggingFace cache (Qwen/Qwen2.5-0.5B), or a PEFT"
              + " adapter directory (its base_model_name_or_path is loaded under it)")
  String model;

  @Option(
      names = "--revision",
      paramLabel = "REV",
      description = "with a hub name: the branch, tag or commit of its snapshot (default main)")
  String revision;

  private Path dir;

  /** The directory --model names: itself, or its snapshot in the hub cache. */
  Path dir() throws IOException {
    if (dir == null) {
      dir = HubCache.resolve(HubCache.RepoType.MODEL, model, revision);
    }
    return dir;
  }

  @Option(
      names = "--adapter",
      paramLabel = "DIR",
      description = "a PEFT LoRA adapter to put on --model (a Tilt LoRA checkpoint, or PEFT's)")
  Path adapter;

  /** The model, with its adapter when there is one, computing in {@code precision}. */
  CausalLM load(Precision precision) throws IOException {
    return LoraFiles.loadWithBase(dir(), adapter, Devices.current(), precision);
  }

  /** The directory of the base weights: --model, or the base an adapter directory names. */
  Path base() throws IOException {
    Path model = dir();
    if (adapter == null
        && LoraFiles.isAdapter(model)
        && !Files.exists(model.resolve("config.json"))) {
      return LoraFiles.baseOf(model);
    }
    return model;
  }

  /** The tokenizer of the adapter's directory, else the model's, else the base's; null if none. */
  TextTokenizer tokenizer() throws IOException {
    for (Path d : new Path[] {adapter, dir(), base()}) {
      if (d != null && Files.exists(d.resolve("tokenizer.json"))) {
        return TextTokenizer.load(d);
      }
    }
    return null;
  }
}
