package ai.djl.pytorch.jni;

import ai.djl.pytorch.engine.PtSymbolBlock;

/**
 * Runs a method of a TorchScript module with autograd on. DJL's own {@code IValueUtils.runMethod}
 * always runs in inference mode, and the native call that takes the flag is package-private; this
 * class lives in DJL's package (on the classpath, not as a JPMS module) to reach it. Tilt's bf16
 * casts, bf16 matmuls and fused attention run through here (ai.tilt.runtime.Kernels);
 * shared/notes/djl.md section 9 describes the route.
 */
public final class TiltBridge {
  private TiltBridge() {}

  /** Calls {@code block.method(inputs)} with gradients recorded when a collector is open. */
  public static IValue run(PtSymbolBlock block, String method, boolean train, IValue... inputs) {
    long[] handles = new long[inputs.length];
    for (int i = 0; i < inputs.length; i++) {
      handles[i] = inputs[i].getHandle();
    }
    return new IValue(
        PyTorchLibrary.LIB.moduleRunMethod(block.getHandle(), method, handles, train, false));
  }
}
