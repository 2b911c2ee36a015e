package ai.tilt.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.tilt.model.ModelConfig.Rope;
import ai.tilt.model.ModelConfig.RopeScaling;

/**
 * Rotary position embedding (Su et al., 2021, "RoFormer"), in HF's "rotate half" layout: the first
 * and second halves of the rotary dims form the (x, y) pairs. Only the leading {@code rotaryDim}
 * dims of a head rotate (GPT-NeoX rotates 25% of them); the rest pass through.
 */
final class Rotary {
  private final float[] invFreq; // (rotaryDim / 2)
  private final int rotaryDim;

  Rotary(Rope rope) {
    this.rotaryDim = rope.rotaryDim();
    this.invFreq = inverseFrequencies(rope);
  }

  /** HF's inv_freq, with rope_scaling applied; computed in float32 as transformers does. */
  static float[] inverseFrequencies(Rope rope) {
    int half = rope.rotaryDim() / 2;
    float[] inv = new float[half];
    for (int i = 0; i < half; i++) {
      float exponent = (float) (2 * i) / rope.rotaryDim();
      inv[i] = (float) (1.0 / Math.pow(rope.theta(), exponent));
    }
    RopeScaling s = rope.scaling();
    if (s == null) {
      return inv;
    }
    if (s.type().equals("linear")) {
      for (int i = 0; i < half; i++) {
        inv[i] = (float) (inv[i] / s.factor());
      }
      return inv;
    }
    // llama3: long wavelengths are slowed by factor, short ones kept, the band between blended.
    double lowWavelen = s.originalMaxPositions() / s.lowFreqFactor();
    double highWavelen = s.originalMaxPositions() / s.highFreqFactor();
    for (int i = 0; i < half; i++) {
      double wavelen = 2 * Math.PI / inv[i];
      if (wavelen > lowWavelen) {
        inv[i] = (float) (inv[i] / s.factor());
      } else if (wavelen >= highWavelen) {
        double smooth =
            (s.originalMaxPositions() / wavelen - s.lowFreqFactor())
                / (s.highFreqFactor() - s.lowFreqFactor());
        inv[i] = (float) ((1 - smooth) * inv[i] / s.factor() + smooth * inv[i]);
      }
    }
    return inv;
  }

  /** The inverse frequencies as a (rotaryDim / 2) array, for a kernel that makes its own tables. */
  NDArray inverseFrequencies(NDManager m) {
    return m.create(invFreq);
  }

  /**
   * cos and sin tables for the given positions, shaped to broadcast over heads.
   *
   * @param positions (B, T) int64 position ids
   * @return [cos, sin], each (B, 1, T, rotaryDim)
   */
  NDList tables(NDArray positions) {
    NDArray inv = positions.getManager().create(invFreq).reshape(1, 1, invFreq.length);
    NDArray angles = positions.toType(DataType.FLOAT32, false).expandDims(-1).mul(inv); // (B,T,r/2)
    NDArray emb = angles.concat(angles, -1).expandDims(1); // (B,1,T,r)
    return new NDList(emb.cos(), emb.sin());
  }

  /**
   * Rotates the leading rotaryDim dims of x.
   *
   * @param x (B, H, T, headDim)
   * @param tables from {@link #tables}
   */
  NDArray apply(NDArray x, NDList tables) {
    long headDim = x.getShape().get(3);
    NDArray rot = rotaryDim == headDim ? x : x.get(":, :, :, :{}", rotaryDim);
    int half = rotaryDim / 2;
    NDArray x1 = rot.get(":, :, :, :{}", half);
    NDArray x2 = rot.get(":, :, :, {}:", half);
    NDArray rotated = x2.neg().concat(x1, -1);
    NDArray out = rot.mul(tables.get(0)).add(rotated.mul(tables.get(1)));
    if (rotaryDim == headDim) {
      return out;
    }
    return NDArrays.concat(new NDList(out, x.get(":, :, :, {}:", rotaryDim)), -1);
  }

  int rotaryDim() {
    return rotaryDim;
  }
}
