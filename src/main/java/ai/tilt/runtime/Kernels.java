package ai.tilt.runtime;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.engine.PtSymbolBlock;
import ai.djl.pytorch.jni.IValue;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.pytorch.jni.TiltBridge;
import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.Map;

/**
 * What DJL 0.36 cannot do itself — bfloat16 compute with autograd and fused scaled-dot-product
 * attention — done by a small TorchScript module run through DJL (shared/notes/djl.md sections 4
 * and 9). Why TorchScript: it needs nothing but the libtorch DJL already loads (a native extension
 * would need libtorch 2.7.1 headers and a C++ toolchain at build time), it runs unchanged on CUDA,
 * and its methods record autograd when run in training mode, so casts to bfloat16 and back keep
 * gradients flowing to float32 master weights — which DJL's own {@code toType} cuts.
 *
 * <p>The archive is a committed resource ({@code tilt_kernels.pt}, a few KB, made by {@code
 * scripts/make_kernels.py}); no Python is needed to build or run. Every tensor crossing into Java
 * is float32 (or an opaque bfloat16 weight that only these kernels touch), because DJL aborts the
 * JVM on a bfloat16 array. When the module cannot load, {@link #available()} is false and fp32
 * falls back to plain NDArray ops.
 */
public final class Kernels {
  private static final String RESOURCE = "/ai/tilt/runtime/tilt_kernels.pt";
  private static final Map<Device, Kernels> LOADED = new HashMap<>();
  private static String loadError;

  private final PtSymbolBlock block;

  private Kernels(PtSymbolBlock block) {
    this.block = block;
  }

  /** The kernels on a device, loaded once; null when they cannot load. */
  public static synchronized Kernels on(Device device) {
    if (LOADED.containsKey(device)) {
      return LOADED.get(device);
    }
    Kernels k = null;
    if (!Boolean.getBoolean("tilt.no_kernels")) {
      try (InputStream in = Kernels.class.getResourceAsStream(RESOURCE)) {
        if (in == null) {
          throw new IOException("resource " + RESOURCE + " is missing from the jar");
        }
        // the block's manager lives as long as the process: the kernels are shared by every model
        PtNDManager m = (PtNDManager) NDManager.newBaseManager(device);
        k = new Kernels(JniUtils.loadModule(m, in, true, false));
      } catch (IOException | RuntimeException e) {
        loadError = e.toString();
      }
    }
    LOADED.put(device, k);
    return k;
  }

  /** Whether the kernels load on the CPU (tests and fallbacks ask). */
  public static boolean available() {
    return on(Device.cpu()) != null;
  }

  /** Why they did not load, or null. */
  public static String loadError() {
    return loadError;
  }

  /** A kernel call returning one array, which belongs to the first array argument's manager. */
  private NDArray call(String method, Object... args) {
    return run(JniUtils.isGradMode(), method, args)[0];
  }

  /**
   * A call under the thread's own grad mode (a caller's NoGrad) instead of inference mode, whose
   * results could neither become leaves nor be saved by autograd later.
   */
  private NDArray[] callOutsideInferenceMode(String method, Object... args) {
    return run(true, method, args);
  }

  /**
   * @param train run under the thread's grad mode; false runs in inference mode (DJL's JNI)
   */
  private NDArray[] run(boolean train, String method, Object... args) {
    IValue[] in = new IValue[args.length];
    PtNDManager manager = null;
    try {
      for (int i = 0; i < args.length; i++) {
        if (args[i] instanceof NDArray a) {
          in[i] = IValue.from((PtNDArray) a);
          manager = manager == null ? (PtNDManager) a.getManager() : manager;
        } else if (args[i] instanceof NDArray[] list) {
          PtNDArray[] tensors = new PtNDArray[list.length];
          for (int j = 0; j < list.length; j++) {
            tensors[j] = (PtNDArray) list[j];
          }
          if (manager == null && list.length > 0) {
            manager = (PtNDManager) list[0].getManager();
          }
          in[i] = IValue.listFrom(tensors);
        } else if (args[i] instanceof Boolean b) {
          in[i] = IValue.from(b);
        } else if (args[i] instanceof Double d) {
          in[i] = IValue.from(d);
        } else if (args[i] instanceof Long || args[i] instanceof Integer) {
          in[i] = IValue.from(((Number) args[i]).longValue());
        } else {
          throw new IllegalArgumentException("kernel argument of type " + args[i].getClass());
        }
      }
      try (IValue out = TiltBridge.run(block, method, train, in)) {
        return out.isTensor() ? new NDArray[] {out.toTensor(manager)} : out.toTensorArray(manager);
      }
    } finally {
      for (IValue v : in) {
        if (v != null) {
          v.close();
        }
      }
    }
  }

  /** x @ w^T (+ b) in bfloat16, float32 in and out. */
  public NDArray linearBf16(NDArray x, NDArray w, NDArray b) {
    return b == null ? call("linear_bf16", x, w) : call("linear_bias_bf16", x, w, b);
  }

  /** a @ b in bfloat16, float32 in and out. */
  public NDArray matmulBf16(NDArray a, NDArray b) {
    return call("matmul_bf16", a, b);
  }

  /**
   * Fused attention: softmax(q k^T / sqrt(d) + bias) v.
   *
   * @param q (B, H, T, d)
   * @param k (B, KV, S, d); KV may divide H (grouped-query attention)
   * @param v (B, KV, S, d)
   * @param bias (B, 1, T, S) additive: 0 where allowed, a large negative value elsewhere
   * @param bf16 compute in bfloat16
   * @return (B, H, T, d) float32
   */
  public NDArray sdpa(NDArray q, NDArray k, NDArray v, NDArray bias, boolean bf16) {
    boolean gqa = q.getShape().get(1) != k.getShape().get(1);
    return call(bf16 ? "sdpa_bf16" : "sdpa", q, k, v, bias, gqa);
  }

  /**
   * A bfloat16 copy of a float32 weight, for inference-only models. The returned array reports an
   * unknown dtype to DJL: hand it to the {@code *W16} kernels only, never to DJL ops that create
   * arrays of its type.
   */
  public NDArray toBf16(NDArray w) {
    return call("to_bf16", w);
  }

  public NDArray linearW16(NDArray x, NDArray w16, NDArray b) {
    return b == null ? call("linear_w16", x, w16) : call("linear_bias_w16", x, w16, b);
  }

  public NDArray matmulW16(NDArray x, NDArray w16) {
    return call("matmul_w16", x, w16);
  }

  /**
   * One decode step of a Llama-style model in one call ({@code decode_rms} in
   * scripts/make_kernels.py), writing the step's keys and values into the cache storage at {@code
   * pos}.
   *
   * @param ids (B, 1) int64 the fed tokens, with their (B, 1) position ids {@code positions}
   * @param keyMask (B, pos + 1) int64, 1 where a key is real (not left padding)
   * @param invFreq (hd / 2) rotary inverse frequencies
   * @param embed (V, d) the token embedding table
   * @param layers 18 weights per layer in the kernel's order, empty arrays where the model has none
   * @param keys per layer (B, KV, capacity, hd)
   * @param window the sliding attention window, 0 for none
   * @return (B, d) final hidden states, after the last norm
   */
  public NDArray decodeRms(
      NDArray ids,
      NDArray positions,
      NDArray keyMask,
      NDArray invFreq,
      NDArray embed,
      NDArray[] layers,
      NDArray[] keys,
      NDArray[] values,
      long pos,
      int window,
      int heads,
      int kvHeads,
      double eps,
      NDArray finalNorm) {
    return call(
        "decode_rms",
        ids,
        positions,
        keyMask,
        invFreq,
        embed,
        layers,
        keys,
        values,
        pos,
        window,
        heads,
        kvHeads,
        eps,
        finalNorm);
  }

  /** (B, d) @ W^T for the head's (V, d) weight: a decode step's logits. */
  public NDArray headLogits(NDArray h, NDArray headWeight) {
    return call("head_logits", h, headWeight);
  }

  /**
   * The inverse-CDF draw of the token sampler without top-k or top-p, in one call.
   *
   * @param logits (B, V) float32
   * @param uniforms (B, 1) float64 in [0, 1)
   * @return (B, 2) float64: the token id and its log-prob
   */
  public NDArray samplePlain(NDArray logits, NDArray uniforms, double temperature) {
    return call("sample_plain", logits, uniforms, temperature);
  }

  /**
   * {@link #samplePlain} and each row's most likely token with its log-prob, from the same
   * normaliser: what a request for one top log-prob needs at almost no extra cost.
   *
   * @return (B, 4) float64: the token id, its log-prob, the most likely id, its log-prob
   */
  public NDArray samplePlainTop1(NDArray logits, NDArray uniforms, double temperature) {
    return call("sample_plain_top1", logits, uniforms, temperature);
  }

  /**
   * log p(y) under an LM head without a graph (call it under NoGrad), the logits normalised in
   * place.
   *
   * @param h (M, d) hidden states
   * @param w (V, d) head weight
   * @param y (M) int64 targets
   * @return (M)
   */
  public NDArray headLogprobs(NDArray h, NDArray w, NDArray y) {
    return callOutsideInferenceMode("head_logprobs", h, w, y)[0];
  }

  /**
   * log p(y) under an LM head and what its gradients need, without a graph (call it under NoGrad):
   * {@code [lp (M), j (M, d), negDz (M, V)]}, where dz = onehot(y) - softmax(h W^T) is d lp / d
   * logits, j = dz W is d lp / d h, and dz^T h is d lp / d W; negDz = -dz (a pass fewer over the
   * array); j and negDz are empty arrays unless asked for.
   */
  public NDArray[] headLogprobGrads(
      NDArray h, NDArray w, NDArray y, boolean wantJ, boolean keepDz) {
    return callOutsideInferenceMode("head_logprob_grads", h, w, y, wantJ, keepDz);
  }

  /** {@code acc[ids[i]] += rows[i]} in place (call it under NoGrad): (V, d), (N), (N, d). */
  public void indexAddRows(NDArray acc, NDArray ids, NDArray rows) {
    callOutsideInferenceMode("index_add_rows", acc, ids, rows)[0].close();
  }

  /**
   * AdamW (torch's fused kernel) over parameters of one weight decay, in place: every parameter,
   * its moments and its gradient (which is first divided by {@code gradScale}, and kept so) in one
   * pass.
   *
   * @param step the update's t, counting this one
   */
  public void adamw(
      NDArray[] params,
      NDArray[] grads,
      NDArray[] expAvgs,
      NDArray[] expAvgSqs,
      long step,
      double lr,
      double beta1,
      double beta2,
      double weightDecay,
      double eps,
      double gradScale) {
    call(
            "adamw",
            params,
            grads,
            expAvgs,
            expAvgSqs,
            (double) step,
            lr,
            beta1,
            beta2,
            weightDecay,
            eps,
            gradScale)
        .close();
  }

  /**
   * The sum of squares of every element of the arrays, each array's added in order: one read of
   * each by the kernel (where a squared copy and a sum per array take two passes), or the latter
   * where the kernels cannot load.
   */
  public static double squaredNormOf(NDArray[] arrays) {
    Kernels kernels = on(arrays[0].getDevice());
    if (kernels != null) {
      return kernels.call("squared_norm", (Object) arrays).getFloat();
    }
    NDArray total = null;
    for (NDArray a : arrays) {
      NDArray s = a.square().sum();
      total = total == null ? s : total.add(s);
    }
    return total.getFloat();
  }

  public NDArray embeddingW16(NDArray ids, NDArray w16) {
    return call("embedding_w16", ids, w16);
  }
}
