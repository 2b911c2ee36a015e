package ai.tilt.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.tilt.bench.PrecisionBench;
import ai.tilt.runtime.ChildJvm;
import ai.tilt.runtime.Kernels;
import ai.tilt.runtime.Torch;
import ai.tilt.sampling.Generator;
import ai.tilt.sampling.SamplingParams;
import ai.tilt.train.Checkpoints;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * What must hold on a GPU, run by {@code scripts/gpu-check.sh} on the lent machine: parity with
 * transformers for every fixture family, bf16-mixed gradients against fp32, the TorchScript
 * kernels, sampled generation, and a DPO and a GRPO run stopped by SIGTERM that resume bitwise.
 * Skipped where libtorch sees no GPU; {@code -Dtilt.gpu_tests_on_cpu=true} runs them on the CPU,
 * which is how the checks themselves are tested without a GPU.
 */
@Tag("gpu")
class GpuCheckTest {
  static Device device;

  @TempDir Path tmp;

  @BeforeAll
  static void onAGpu() {
    Torch.init();
    int gpus = Engine.getInstance().getGpuCount();
    assumeTrue(
        gpus > 0 || Boolean.getBoolean("tilt.gpu_tests_on_cpu"),
        "no GPU visible to libtorch: scripts/gpu-check.sh runs these on one");
    device = gpus > 0 ? Device.gpu(0) : Device.cpu();
  }

  @ParameterizedTest
  @MethodSource("ai.tilt.model.Fixtures#families")
  void everyFamilyMatchesTransformersOnTheDevice(String variant) throws IOException {
    Path dir = Fixtures.dir(variant);
    List<HfParityTest.Case> cases = HfParityTest.cases(dir);
    try (CausalLM model = ModelFiles.load(dir, device)) {
      assertEquals(device, model.manager().getDevice());
      for (boolean left : new boolean[] {false, true}) {
        // fp32 on the GPU: cuBLAS sums in another order than the CPU reference did
        HfParityTest.check(model, cases, left, 2e-4);
      }
    }
  }

  @Test
  void bf16MixedGradientsFollowFp32() throws IOException {
    Path dir = Fixtures.dir("hf-extra/llama3_mqa_tied");
    try (CausalLM fp32 = ModelFiles.load(dir, device);
        CausalLM mixed = ModelFiles.load(dir, device)) {
      Map<String, Object> r = PrecisionBench.parity(fp32, mixed, 4, 32);
      double cosine = (double) r.get("min_gradient_cosine");
      double diff = (double) r.get("max_logprob_diff");
      assertTrue(cosine > 0.99, "smallest per-parameter gradient cosine " + r);
      // the fixtures' weights are 10x a trained model's scale, which magnifies bf16 rounding
      // (README, Mixed precision: 0.03-0.17 on CPU)
      assertTrue(diff < 0.25, "largest log-prob difference " + r);
      assertTrue(diff > 0, "bf16 must round somewhere, or the mixed path did not run: " + r);
    }
  }

  @Test
  void kernelsRunOnTheDeviceAndAgreeWithFp32() {
    Kernels k = Kernels.on(device);
    assertNotNull(k, "TorchScript kernels did not load on " + device + ": " + Kernels.loadError());
    try (NDManager m = NDManager.newBaseManager(device)) {
      SplittableRandom r = new SplittableRandom(3);
      float[] a = new float[64 * 96];
      float[] b = new float[96 * 48];
      for (int i = 0; i < a.length; i++) {
        a[i] = (float) r.nextGaussian();
      }
      for (int i = 0; i < b.length; i++) {
        b[i] = (float) r.nextGaussian();
      }
      NDArray x = m.create(a, new Shape(64, 96));
      NDArray y = m.create(b, new Shape(96, 48));
      float[] want = x.dot(y).toFloatArray();
      float[] got = k.matmulBf16(x, y).toFloatArray();
      double worst = 0;
      double scale = 0;
      for (int i = 0; i < want.length; i++) {
        worst = Math.max(worst, Math.abs(want[i] - got[i]));
        scale = Math.max(scale, Math.abs(want[i]));
      }
      // bf16 inputs (8 mantissa bits) over 96 products: within 2% of the largest entry
      assertTrue(worst < 0.02 * scale, "bf16 matmul off by " + worst + " of " + scale);
      assertTrue(worst > 0, "no rounding at all: the bf16 kernel did not run");
    }
  }

  @Test
  void samplingIsSeededAndGreedyMatchesTheCpu() throws IOException {
    Path dir = Fixtures.dir("hf-tiny/llama_gqa");
    List<long[]> prompts = new ArrayList<>();
    for (HfParityTest.Case c : HfParityTest.cases(dir)) {
      prompts.add(c.prompt());
    }
    try (CausalLM model = ModelFiles.load(dir, device)) {
      Generator g = new Generator(model, new long[0]);
      SamplingParams sampled = new SamplingParams(16, 1.0, 0, 1.0, false, true, 11);
      List<Generator.Generation> a = g.generate(prompts, sampled, true);
      List<Generator.Generation> b = g.generate(prompts, sampled, true);
      List<Generator.Generation> greedy = g.generate(prompts, SamplingParams.greedy(16), true);
      int vocab = model.config().vocabSize();
      for (int i = 0; i < prompts.size(); i++) {
        assertArrayEquals(a.get(i).completionIds(), b.get(i).completionIds(), "seeded row " + i);
        assertEquals(16, a.get(i).completionIds().length);
        for (long id : a.get(i).completionIds()) {
          assertTrue(id >= 0 && id < vocab);
        }
        // transformers' greedy continuation, recorded in the fixture
        long[] want =
            HfParityTest.longs(HfParityTest.cases(dir).get(i).expected().get("greedy_ids"));
        long[] got = greedy.get(i).completionIds();
        for (int j = 0; j < Math.min(want.length, got.length); j++) {
          assertEquals(want[j], got[j], "greedy row " + i + " token " + j);
        }
      }
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"recipes/dpo-offline.yaml", "recipes/online-grpo.yaml"})
  void stoppedBySigtermAndResumedEqualsUninterrupted(String recipe) throws Exception {
    boolean online = recipe.contains("online");
    String steps = online ? "online.iterations=4" : "train.max_steps=12";
    String[] common = {
      "--set", "device=" + (device.isGpu() ? "cuda:" + device.getDeviceId() : "cpu"),
      "--set", "checkpoint.every_steps=0",
      "--set", "eval.every_steps=0",
      "--set", "log.every=1",
      // the schedule must not depend on the step count, which the interrupted run sets higher
      "--set", "train.schedule=constant",
      "--set", online ? "model.init.sft.steps=20" : "train.warmup_steps=0",
    };
    Path whole = tmp.resolve("whole");
    Process p = train(recipe, whole, tmp.resolve("whole.txt"), common, "--set", steps);
    assertTrue(p.waitFor(300, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), Files.readString(tmp.resolve("whole.txt")));

    Path parts = tmp.resolve("parts");
    String longRun = online ? "online.iterations=100000" : "train.max_steps=100000";
    Process q = train(recipe, parts, tmp.resolve("parts.txt"), common, "--set", longRun);
    long deadline = System.currentTimeMillis() + 240_000;
    while (lines(parts.resolve("metrics.jsonl")) < 2
        && q.isAlive()
        && System.currentTimeMillis() < deadline) {
      Thread.sleep(50);
    }
    assertTrue(q.isAlive(), Files.readString(tmp.resolve("parts.txt")));
    q.destroy(); // SIGTERM
    assertTrue(q.waitFor(120, TimeUnit.SECONDS));
    Path stopped = Checkpoints.findLatest(parts, new ArrayList<>());
    assertNotNull(stopped, Files.readString(tmp.resolve("parts.txt")));
    Process r = train(recipe, parts, tmp.resolve("resume.txt"), common, "--set", steps, "--resume");
    assertTrue(r.waitFor(300, TimeUnit.SECONDS));
    assertEquals(0, r.exitValue(), Files.readString(tmp.resolve("resume.txt")));

    Path a = Checkpoints.findLatest(whole, new ArrayList<>()).resolve("model.safetensors");
    Path b = Checkpoints.findLatest(parts, new ArrayList<>()).resolve("model.safetensors");
    assertEquals(a.getParent().getFileName(), b.getParent().getFileName());
    assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b), "weights differ bitwise");
  }

  private static Process train(
      String recipe, Path runDir, Path log, String[] common, String... more) throws IOException {
    List<String> args = new ArrayList<>(List.of("train", recipe, "--run-dir", runDir.toString()));
    args.addAll(List.of(common));
    args.addAll(List.of(more));
    ProcessBuilder pb = ChildJvm.builder(List.of(), args);
    pb.redirectErrorStream(true);
    pb.redirectOutput(log.toFile());
    return pb.start();
  }

  private static long lines(Path f) throws IOException {
    if (!Files.exists(f)) {
      return 0;
    }
    try (var s = Files.lines(f)) {
      return s.count();
    }
  }
}
