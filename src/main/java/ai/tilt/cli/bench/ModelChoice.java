package ai.tilt.cli.bench;

import ai.tilt.cli.HubModelPath;
import ai.tilt.model.CausalLM;
import ai.tilt.model.ModelConfig.Family;
import ai.tilt.model.ModelFiles;
import ai.tilt.model.Presets;
import ai.tilt.runtime.Devices;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Which model a benchmark runs: a preset made on the fly, or a HF directory. */
final class ModelChoice {
  @Option(
      names = "--model",
      converter = HubModelPath.class,
      description = "HF model directory or hub name (default: a random preset model)")
  Path model;

  @Option(
      names = "--preset",
      defaultValue = "small",
      description = "tiny, small or medium (default: ${DEFAULT-VALUE})")
  String preset;

  @Option(
      names = "--arch",
      defaultValue = "llama",
      description = "family of the preset model (default: ${DEFAULT-VALUE})")
  String arch;

  @Option(
      names = "--vocab-size",
      defaultValue = "50257",
      description = "vocabulary of the preset model (default: ${DEFAULT-VALUE}, GPT-2's)")
  int vocab;

  CausalLM load() throws Exception {
    if (model != null) {
      return ModelFiles.load(model, Devices.current());
    }
    Family f = Family.of(arch);
    return ModelFiles.random(
        Presets.config(f, preset, vocab, null, new long[0], null), 0, 0.02f, Devices.current());
  }

  String label() {
    return model != null ? model.toString() : arch + "-" + preset + "-v" + vocab;
  }
}
